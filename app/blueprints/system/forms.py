from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length


class TestMailForm(FlaskForm):
    to = EmailField("Send to", validators=[DataRequired(), Email(), Length(max=254)])


class ConfirmForm(FlaskForm):
    """A bare form: the CSRF token is all a confirmed POST needs."""
