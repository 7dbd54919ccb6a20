"""Staff API: the caller's identity and their own API tokens."""

from flask import g
from flask.views import MethodView
from flask_login import current_user

from app.blueprints.auth import api_bp, tokens
from app.blueprints.auth.schemas import IdentitySchema, NewTokenSchema, TokenCreateSchema, TokenSchema
from app.core.permissions import require_login
from app.core.transaction import transaction

BEARER = [{"bearerAuth": []}]


@api_bp.route("/me")
class Me(MethodView):
    @require_login
    @api_bp.response(200, IdentitySchema)
    @api_bp.doc(security=BEARER)
    def get(self):
        """The user and scopes behind the bearer token"""
        token = g.get("api_token")
        return {
            "id": current_user.id,
            "email": current_user.email,
            "name": current_user.name,
            "permissions": sorted(current_user.permission_codes),
            "scopes": token.scopes if token else None,
        }


@api_bp.route("/tokens")
class Tokens(MethodView):
    @require_login
    @api_bp.response(200, TokenSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self):
        """The caller's API tokens (never their secrets)"""
        return tokens.tokens_of(current_user)

    @require_login
    @api_bp.arguments(TokenCreateSchema)
    @api_bp.response(201, NewTokenSchema)
    @api_bp.doc(security=BEARER)
    def post(self, data):
        """Create a token for the caller; its secret is in this response only.

        Scopes must be permissions the caller holds, and within the scopes of the token
        making the request, so a token can never mint a stronger one."""
        with transaction():
            token, secret = tokens.create_api_token(
                current_user,
                name=data["name"],
                scopes=data["scopes"],
                expires_at=data["expires_at"],
                actor=current_user,
                within_scopes=g.api_token.scopes if g.get("api_token") else None,
            )
        token.secret = secret  # carried to this one response only; never stored
        return token


@api_bp.route("/tokens/<int:token_id>")
class TokenItem(MethodView):
    @require_login
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, token_id):
        """Revoke one of the caller's tokens, at once"""
        with transaction():
            tokens.revoke_api_token(
                tokens.own_token(current_user, token_id),
                actor=current_user,
                within_scopes=g.api_token.scopes if g.get("api_token") else None,
            )
