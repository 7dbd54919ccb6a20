"""Forms of sign-in, recovery, MFA and the user's own account."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional, ValidationError

from app.blueprints.auth.passwords import MAX_LENGTH, MIN_LENGTH
from app.core.forms import CheckboxesField

PASSWORD_HINT = f"{MIN_LENGTH} to {MAX_LENGTH} characters. A few unrelated words make a good one."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ConfirmIdentityForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=MAX_LENGTH)])
    code = StringField(
        "Code from your authenticator app",
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=MAX_LENGTH)])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = StringField(
        "Time zone", validators=[Optional(), Length(max=64)], render_kw={"placeholder": "Europe/Amsterdam"}
    )


class EmailChangeForm(FlaskForm):
    email = EmailField("New email address", validators=[DataRequired(), Email(), Length(max=254)])


class EnableMfaForm(FlaskForm):
    code = StringField(
        "Code shown by your authenticator app",
        validators=[DataRequired(), Length(min=6, max=8)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ConfirmForm(FlaskForm):
    """A bare form: the CSRF token is all a confirmed POST needs."""


class TokenForm(FlaskForm):
    name = StringField("What uses this token", validators=[DataRequired(), Length(max=120)])
    scopes = CheckboxesField("Scopes", validators=[DataRequired(message="Choose at least one scope.")])
    expires_in_days = IntegerField(
        "Expires after (days)", validators=[Optional(), NumberRange(min=1, max=3650)], render_kw={"min": 1}
    )
    no_expiry = BooleanField("Never expires")

    def validate_no_expiry(self, field):
        # An expiry must be a decision, never what an empty field happens to mean.
        if not field.data and not self.expires_in_days.data:
            raise ValidationError("Give the number of days, or tick “Never expires”.")
