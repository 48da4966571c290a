"""Django forms as server functions: declare a form, get `<name>.schema`, `<name>.validate`
and `<name>.submit` over HTTP and the socket, and a description clients render from.

    from django import forms
    from mizan_channels.forms import mizanFormMixin, mizanFormMeta

    class ContactForm(mizanFormMixin, forms.Form):
        mizan = mizanFormMeta(name="contact", title="Contact Us", submit_label="Send")
        email = forms.EmailField()

        def on_submit_success(self, request):
            return {"sent": True}

`MizanFormMixin` / `MizanFormMeta` are the same classes under PEP 8 names.
"""

from __future__ import annotations

from .bind import FieldError, FormValidation
from .declare import MizanFormMetaclass, mizanFormMeta, mizanFormMixin
from .describe import FormField, FormSchema, describe_field, describe_form, form_schema

MizanFormMixin = mizanFormMixin
MizanFormMeta = mizanFormMeta

__all__ = [
    "FieldError",
    "FormField",
    "FormSchema",
    "FormValidation",
    "MizanFormMeta",
    "MizanFormMetaclass",
    "MizanFormMixin",
    "describe_field",
    "describe_form",
    "form_schema",
    "mizanFormMeta",
    "mizanFormMixin",
]
