import marshmallow as ma
from marshmallow import validate


class IdentitySchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.Email()
    name = ma.fields.String()
    permissions = ma.fields.List(ma.fields.String(), metadata={"description": "What the user may do"})
    scopes = ma.fields.List(
        ma.fields.String(), allow_none=True, metadata={"description": "What this token may do"}
    )


class TokenCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    scopes = ma.fields.List(
        ma.fields.String(validate=validate.Length(max=80)),
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Permission codes the token may use"},
    )
    expires_at = ma.fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "ISO 8601 with offset"}
    )


class TokenSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "staff or customer"})
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "First characters, to recognise the token"})
    scopes = ma.fields.List(ma.fields.String())
    created_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    last_used_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "Recorded to the nearest 5 minutes"}
    )


class NewTokenSchema(TokenSchema):
    secret = ma.fields.String(metadata={"description": "Shown once; store it now"})
