"""Form building blocks every domain's portal forms share."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, widgets


class PortalForm(FlaskForm):
    """A portal form without its own CSRF field: every portal POST is checked for CSRF
    before any view runs (security.protect_portal_forms, the token in the form's csrf_token
    or the X-CSRFToken header), and prefixed forms could not carry it under that name."""

    class Meta:
        csrf = False


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()
