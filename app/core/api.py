"""flask-smorest Api whose error handling is the app's one error path."""

import http
from decimal import Decimal

import marshmallow as ma
from flask_smorest import Api, pagination
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from app.core import errors, races
from app.core.money import MONEY_PATTERN

# The highest page number a list accepts. Without a bound, page 10**17 made an offset past
# PostgreSQL's bigint: a database error (500) instead of a 422 on `page`.
MAX_PAGE = 1_000_000
_smorest_pagination_schema = pagination._pagination_parameters_schema_factory


def bounded_pagination_schema(def_page, def_page_size, def_max_page_size):
    """flask-smorest's pagination arguments (`?page=&page_size=`) with `page` bounded.
    flask-smorest (pinned) builds them in this module-level factory; ours wraps it."""
    base = _smorest_pagination_schema(def_page, def_page_size, def_max_page_size)

    class BoundedPaginationParametersSchema(base):
        page = ma.fields.Integer(load_default=def_page, validate=ma.validate.Range(min=1, max=MAX_PAGE))

    return BoundedPaginationParametersSchema


pagination._pagination_parameters_schema_factory = bounded_pagination_schema


DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
CENT = Decimal("0.01")


def number(value) -> int | float:
    exact = Decimal(str(value))
    return int(exact) if exact == exact.to_integral_value() else float(exact)


def decimals_as_sent(self, field, ret: dict, **_kwargs) -> dict:
    """Decimal fields as the API really sends and takes them. apispec calls every Decimal
    a number, but money travels as a decimal string ("19.90", and MoneyInput refuses a JSON
    number); and it writes a Decimal's Range bounds as strings, which makes the document
    invalid. A decimal string is typed string (format decimal, with its pattern) and its
    bounds go into the description; a decimal number keeps numeric bounds. (An apispec
    attribute function: `ret` is the property built so far.)"""
    if not isinstance(field, ma.fields.Decimal):
        return {}
    if not field.as_string:
        return {key: number(ret[key]) for key in ("minimum", "maximum") if key in ret}
    bounds = {key: ret.pop(key) for key in ("minimum", "maximum") if key in ret}
    kind = ret.get("type")
    typed = [("string" if t == "number" else t) for t in kind] if isinstance(kind, list) else "string"
    pattern = MONEY_PATTERN if field.places == CENT else DECIMAL_PATTERN
    changes = {"type": typed, "format": "decimal", "pattern": pattern}
    if bounds:
        words = " and ".join(f"{'at least' if k == 'minimum' else 'at most'} {v}" for k, v in bounds.items())
        changes["description"] = f"{ret.get('description') or 'Decimal string'}; {words}."
    return changes


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

    def _init_spec(self, *args, **kwargs):
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(decimals_as_sent)

    def _register_responses(self):
        """flask-smorest's shared responses (one per HTTP status, used by `@arguments` and
        the like, and DEFAULT_ERROR) in the content type the app's errors really have:
        application/problem+json, not flask-smorest's application/json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, errors.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, errors.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(errors.DomainError, errors.handle_domain_error)
        self._app.register_error_handler(IntegrityError, races.handle_integrity_error)

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)
