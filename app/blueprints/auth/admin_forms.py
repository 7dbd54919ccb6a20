"""Forms of Admin > Users and Admin > Roles & permissions."""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.blueprints.auth.passwords import MAX_LENGTH, MIN_LENGTH
from app.core.forms import CheckboxesField

PASSWORD_HINT = (
    f"{MIN_LENGTH} to {MAX_LENGTH} characters. A few unrelated words make a good one; "
    "no common passwords, not their email or name. Share it with them privately."
)


class UserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    roles = CheckboxesField("Roles", choices=[])

    def with_roles(self, roles):
        self.roles.choices = [(role.name, role.name) for role in roles]
        return self


class NewUserForm(UserForm):
    # Length and the other password rules are checked by the service, in one place.
    password = PasswordField("Initial password", validators=[DataRequired()])


class RoleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = StringField("Description", validators=[Length(max=255)])
    require_mfa = BooleanField("Members must use two-factor authentication")


class ActionForm(FlaskForm):
    """A bare form: the CSRF token is all a confirmed POST needs."""


class PermissionMatrixForm(FlaskForm):
    """The roles × permissions grid. Each role on the page sends a hidden `role` field
    with its id and one `grant` field "<role id>:<code>" per checked cell, so a role
    added after the page was loaded is left alone."""

    def grants(self) -> dict[int, set[str]]:
        grants: dict[int, set[str]] = {}
        for raw in request.form.getlist("role"):
            if raw.isdigit():
                grants[int(raw)] = set()
        for raw in request.form.getlist("grant"):
            role_id, _, code = raw.partition(":")
            if role_id.isdigit() and int(role_id) in grants and code:
                grants[int(role_id)].add(code)
        return grants
