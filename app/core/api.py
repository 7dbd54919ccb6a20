"""flask-smorest Api whose error handling is the app's one error path."""

import marshmallow as ma
from flask_smorest import Api
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.core import errors, races


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every API error is returned."""

    type = ma.fields.String(metadata={"description": "Problem type URI"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    code = ma.fields.String(metadata={"description": "Stable machine-readable code"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Field name -> messages (422)"},
    )


class ProblemApi(Api):
    """Registers one handler for HTTP errors and one for domain errors.

    flask-smorest would register its own JSON handler for every HTTPException, which
    would also answer portal 404s with JSON; here the handler decides by path instead.
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(errors.DomainError, errors.handle_domain_error)
        self._app.register_error_handler(IntegrityError, races.handle_integrity_error)

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)
