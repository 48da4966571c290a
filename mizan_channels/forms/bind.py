"""JSON in, Django form out, errors back: the bridge between a call's arguments and a form.

Two layers validate, on purpose. The wire model (`fields_model`) checks only the JSON shape
of each field (a string, a number, a list...) so a malformed call is `invalid_params` like
any other function's; every field is optional there because "required", lengths, bounds,
formats and `clean()` are the form's business, and its messages (translated, the ones users
see beside the field) must be Django's, not Pydantic's.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

from django import forms
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..exceptions import ConfigurationError
from .describe import base_fields

ChoiceKey = str | int


class FieldError(BaseModel):
    """One failing field, in the protocol's `invalid_params` detail shape."""

    loc: list[str]
    msg: str
    type: str


class FormValidation(BaseModel):
    """What `<name>.validate` returns: errors keyed by field, in the protocol's shape;
    non-field errors (`clean()`) have loc ["__all__"]."""

    valid: bool
    errors: list[FieldError]


def wire_type(field: forms.Field) -> Any:
    """The JSON shape a field's value travels in (None always allowed: means absent)."""
    if isinstance(field, forms.FileField):
        raise TypeError("file")
    if isinstance(field, forms.JSONField | forms.ComboField):
        return Any
    if isinstance(field, forms.MultiValueField):
        return list[Any] | None
    if isinstance(field, forms.BooleanField):  # NullBooleanField too
        return bool | None
    if isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
        return list[ChoiceKey] | None
    if isinstance(field, forms.ChoiceField | forms.ModelChoiceField):
        return ChoiceKey | None
    if isinstance(field, forms.DecimalField):
        return decimal.Decimal | None
    if isinstance(field, forms.FloatField):
        return float | None
    if isinstance(field, forms.IntegerField):
        return int | None
    if type(field) is forms.Field:
        return Any
    return str | None


def fields_model(cls: type[forms.BaseForm], model_name: str) -> type[BaseModel]:
    """The call-argument model of a form's `validate` and `submit`, one entry per declared
    field. Python names are positional (`f0`, `f1`...) and the wire names are aliases, so a
    field may be called `json` or `schema` without shadowing a BaseModel attribute.

    Raises ConfigurationError for a file field (uploads can't travel as JSON).
    """
    where = f"{cls.__module__}.{cls.__qualname__}"
    definitions: dict[str, Any] = {}
    for i, (name, field) in enumerate(base_fields(cls).items()):
        try:
            shape = wire_type(field)
        except TypeError:
            raise ConfigurationError(
                f"{where}.{name} is a {type(field).__name__}: file uploads can't travel in a "
                "JSON call. Remove the field from the mizan form and upload through a regular "
                "Django view (multipart), then pass the stored file's id in a CharField."
            ) from None
        definitions[f"f{i}"] = (shape, Field(default=None, alias=name))
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        model_name,
        __config__=ConfigDict(extra="forbid", protected_namespaces=()),
        __module__=cls.__module__,
        **definitions,
    )
    return model


def form_data(form: forms.BaseForm, values: dict[str, Any]) -> dict[str, Any]:
    """Fill the bound form's data dict from call arguments keyed by field name.

    Values go in the shape each widget reads back: lists for multiple choices, booleans as
    booleans, `[date, time]` split across a multi-widget's sub-names, JSON fields as JSON
    text (what `forms.JSONField` parses). None means absent, as an omitted HTML input.
    """
    data: dict[str, Any] = form.data  # type: ignore[assignment]
    for name, value in values.items():
        field = form.fields.get(name)
        if value is None or field is None:
            continue
        key = form.add_prefix(name)
        widget = field.widget
        if isinstance(field, forms.JSONField):
            data[key] = json.dumps(value)
        elif isinstance(widget, forms.MultiWidget) and isinstance(value, list):
            suffixes = getattr(widget, "widgets_names", [f"_{i}" for i in range(len(value))])
            for suffix, part in zip(suffixes, value, strict=False):
                data[key + suffix] = part
        else:
            data[key] = value
    return data


def form_errors(form: forms.BaseForm) -> list[FieldError]:
    """A bound, validated form's errors, one entry per message."""
    out: list[FieldError] = []
    for name, errors in form.errors.as_data().items():
        for error in errors:
            for message in error.messages:
                out.append(FieldError(loc=[name], msg=str(message), type=error.code or "invalid"))
    return out
