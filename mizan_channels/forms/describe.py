"""What a client needs to render and pre-validate a Django form, as JSON-safe data.

`describe_form` is read by two consumers with different needs: the IR export (run once, must
be deterministic, so nothing that runs user code or queries the database: model choices and
callable choices/initials are marked dynamic instead of listed) and the form's `schema`
server function (run per request, so it evaluates them for the caller). `evaluate=` picks.

Field kinds and widget names are our own small vocabulary rather than Django class names, so
a generator in any language can switch on them; a custom field or widget maps to the nearest
standard ancestor it subclasses.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import re
import typing
import uuid
from collections.abc import Iterable
from typing import Any, Literal

from django import forms
from django.core import validators as dj_validators
from django.db.models import Model
from django.forms.utils import pretty_name
from django.utils.choices import CallableChoiceIterator
from django.utils.duration import duration_iso_string
from django.utils.functional import Promise
from pydantic import BaseModel

FieldKind = Literal[
    "any", "char", "email", "url", "slug", "regex", "ip", "uuid",
    "integer", "float", "decimal", "boolean", "null_boolean",
    "choice", "typed_choice", "multiple_choice", "typed_multiple_choice",
    "model_choice", "model_multiple_choice",
    "date", "datetime", "time", "duration", "split_datetime",
    "json", "combo", "multi",
]  # fmt: skip
ChoiceValue = str | int | float | bool | None
Number = int | float

# Most specific first does not matter: lookup walks the field's MRO and takes the first hit.
_KINDS: dict[type[forms.Field], str] = {
    forms.Field: "any",
    forms.CharField: "char",
    forms.EmailField: "email",
    forms.URLField: "url",
    forms.SlugField: "slug",
    forms.RegexField: "regex",
    forms.GenericIPAddressField: "ip",
    forms.UUIDField: "uuid",
    forms.IntegerField: "integer",
    forms.FloatField: "float",
    forms.DecimalField: "decimal",
    forms.BooleanField: "boolean",
    forms.NullBooleanField: "null_boolean",
    forms.ChoiceField: "choice",
    forms.TypedChoiceField: "typed_choice",
    forms.MultipleChoiceField: "multiple_choice",
    forms.TypedMultipleChoiceField: "typed_multiple_choice",
    forms.ModelChoiceField: "model_choice",
    forms.ModelMultipleChoiceField: "model_multiple_choice",
    forms.DateField: "date",
    forms.DateTimeField: "datetime",
    forms.TimeField: "time",
    forms.DurationField: "duration",
    forms.SplitDateTimeField: "split_datetime",
    forms.JSONField: "json",
    forms.ComboField: "combo",
    forms.MultiValueField: "multi",
}

_WIDGETS: dict[type[forms.Widget], str] = {
    forms.Textarea: "textarea",
    forms.CheckboxInput: "checkbox",
    forms.Select: "select",
    forms.NullBooleanSelect: "select",
    forms.SelectMultiple: "select_multiple",
    forms.RadioSelect: "radio",
    forms.CheckboxSelectMultiple: "checkbox_multiple",
    forms.DateInput: "date",
    forms.DateTimeInput: "datetime",
    forms.TimeInput: "time",
    forms.SelectDateWidget: "select_date",
    forms.SplitDateTimeWidget: "split_datetime",
    forms.SplitHiddenDateTimeWidget: "hidden",
    forms.MultipleHiddenInput: "hidden",
    forms.MultiWidget: "multi",
}

# Python-only anchors a browser regex engine doesn't know; an even run of backslashes before
# them means the backslash itself is escaped, not the anchor.
_ANCHOR = re.compile(r"(?<!\\)((?:\\\\)*)\\([AZ])")


class FormField(BaseModel):
    """One field, in declared order. Absent constraints are null."""

    name: str
    kind: FieldKind
    label: str
    required: bool
    help: str = ""
    #: The initial value, JSON-safe (dates as ISO strings, decimals as strings).
    initial: Any = None
    #: The initial value comes from a callable: null here, computed per request by `schema`.
    initial_dynamic: bool = False
    disabled: bool = False
    widget: str = "text"
    #: [[value, label], ...] with option groups flattened; null when not a choice field.
    choices: list[tuple[ChoiceValue, str]] | None = None
    #: Choices are loaded at run time (model querysets, callables): `schema` lists them.
    dynamic: bool = False
    #: For model choice fields: "app_label.ModelName".
    model: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: Number | str | None = None
    max_value: Number | str | None = None
    step: Number | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    #: A regular expression the whole value must match (\\A and \\Z rewritten to ^ and $).
    pattern: str | None = None
    #: Regex flags beyond the default: any of "i", "m", "s".
    pattern_flags: str = ""
    #: Sub-fields of a multi-value field (split_datetime, multi) or a combo field.
    parts: list[FormField] | None = None


class FormSchema(BaseModel):
    """A whole form: what `<name>.schema` returns and what the IR's `form` node carries."""

    name: str
    title: str
    submit_label: str
    fields: list[FormField]


def field_kind(field: forms.Field) -> str:
    """The kind of `field`: its class or the nearest standard ancestor."""
    for klass in type(field).__mro__:
        kind = _KINDS.get(klass)
        if kind is not None:
            return kind
    return "any"


def widget_name(widget: forms.Widget) -> str:
    for klass in type(widget).__mro__:
        name = _WIDGETS.get(klass)
        if name is not None:
            return name
    return str(getattr(widget, "input_type", None) or "text")


def json_safe(value: Any) -> Any:
    """`value` as plain JSON data, the way a client would send it back."""
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Model):
        return json_safe(value.pk)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [json_safe(v) for v in value]
    choice_value = getattr(value, "value", None)  # ModelChoiceIteratorValue
    if choice_value is not None:
        return json_safe(choice_value)
    return str(value)


def _bound(value: Any) -> Number | str | None:
    if value is None or callable(value):
        return None
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int | float):
        return value
    return str(json_safe(value))


def _tighter(current: Any, new: Any, pick: Any) -> Any:
    return new if current is None else pick(current, new)


def _choices(field: forms.Field, evaluate: bool) -> tuple[list[tuple[Any, str]] | None, bool]:
    if not isinstance(field, forms.ChoiceField):
        return None, False
    raw = field.choices
    dynamic = isinstance(field, forms.ModelChoiceField) or isinstance(raw, CallableChoiceIterator)
    if dynamic and not evaluate:
        return None, True
    out: list[tuple[Any, str]] = []
    for value, label in typing.cast(Iterable[tuple[Any, Any]], raw):
        if isinstance(label, list | tuple):  # an option group: flatten it
            out.extend((json_safe(v), str(lbl)) for v, lbl in label)
        else:
            out.append((json_safe(value), str(label)))
    return out, dynamic


def _pattern(field: forms.Field) -> tuple[str | None, str]:
    for validator in field.validators:
        # Exact type: URLValidator and friends are RegexValidators whose regexes are
        # Python-specific and already implied by the field kind.
        if type(validator) is dj_validators.RegexValidator and not validator.inverse_match:
            regex = (
                re.compile(validator.regex) if isinstance(validator.regex, str) else validator.regex
            )
            flags = "".join(
                letter
                for flag, letter in ((re.I, "i"), (re.M, "m"), (re.S, "s"))
                if regex.flags & flag
            )
            return _ANCHOR.sub(lambda m: m[1] + ("^" if m[2] == "A" else "$"), regex.pattern), flags
    return None, ""


def describe_field(name: str, field: forms.Field, *, evaluate: bool = False) -> FormField:
    """One field as a client sees it. Evaluating runs callables and queries (see module)."""
    initial: Any = field.initial
    initial_dynamic = callable(initial)
    if initial_dynamic:
        initial = initial() if evaluate else None
    choices, dynamic = _choices(field, evaluate)
    min_length = getattr(field, "min_length", None)
    max_length = getattr(field, "max_length", None)
    min_value = _bound(getattr(field, "min_value", None))
    max_value = _bound(getattr(field, "max_value", None))
    for v in field.validators:
        limit = getattr(v, "limit_value", None)
        if limit is None or callable(limit):
            continue
        if isinstance(v, dj_validators.MinLengthValidator):
            min_length = _tighter(min_length, limit, max)
        elif isinstance(v, dj_validators.MaxLengthValidator):
            max_length = _tighter(max_length, limit, min)
        elif isinstance(v, dj_validators.MinValueValidator) and min_value is None:
            min_value = _bound(limit)
        elif isinstance(v, dj_validators.MaxValueValidator) and max_value is None:
            max_value = _bound(limit)
    pattern, flags = _pattern(field)
    parts: list[FormField] | None = None
    if isinstance(field, forms.MultiValueField | forms.ComboField):
        parts = [
            describe_field(f"{name}_{i}", sub, evaluate=evaluate)
            for i, sub in enumerate(field.fields)
        ]
    model = None
    if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
        meta = field.queryset.model._meta
        model = f"{meta.app_label}.{meta.object_name}"
    step = _bound(getattr(field, "step_size", None))
    return FormField(
        name=name,
        kind=field_kind(field),  # type: ignore[arg-type]
        label=str(field.label) if field.label is not None else pretty_name(name),
        required=field.required,
        help=str(field.help_text or ""),
        initial=json_safe(initial),
        initial_dynamic=initial_dynamic,
        disabled=field.disabled,
        widget=widget_name(field.widget),
        choices=choices,
        dynamic=dynamic,
        model=model,
        min_length=min_length,
        max_length=max_length,
        min_value=min_value,
        max_value=max_value,
        step=step if isinstance(step, int | float) else None,
        max_digits=getattr(field, "max_digits", None),
        decimal_places=getattr(field, "decimal_places", None),
        pattern=pattern,
        pattern_flags=flags,
        parts=parts,
    )


def form_schema(
    form: type[forms.BaseForm] | forms.BaseForm, *, evaluate: bool = False
) -> FormSchema:
    """The typed description of `form` (a class, or an instance whose `fields` may have been
    adjusted in `__init__`). Form-level names come from its `mizan` meta when it has one."""
    cls = form if isinstance(form, type) else type(form)
    fields = ordered_fields(form) if isinstance(form, type) else form.fields
    meta = getattr(cls, "mizan", None)
    name = getattr(meta, "name", None) or default_name(cls)
    return FormSchema(
        name=name,
        title=getattr(meta, "title", None) or pretty_name(name),
        submit_label=getattr(meta, "submit_label", None) or "Submit",
        fields=[describe_field(n, f, evaluate=evaluate) for n, f in fields.items()],
    )


def describe_form(
    form: type[forms.BaseForm] | forms.BaseForm, *, evaluate: bool = False
) -> dict[str, Any]:
    """`form_schema` as plain JSON data: {name, title, submit_label, fields: [...]}.

    Without `evaluate` it runs no user code and no queries (dynamic choices and callable
    initials are marked, not listed), so the same class always gives the same result.
    """
    return form_schema(form, evaluate=evaluate).model_dump(mode="json")


def default_name(cls: type[Any]) -> str:
    """`ContactForm` -> `contact`, `SignUpForm` -> `sign_up`."""
    base = cls.__name__.removesuffix("Form") or cls.__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()


def base_fields(cls: type[forms.BaseForm]) -> dict[str, forms.Field]:
    """The fields a form class declares (its metaclass sets them; the stubs don't know)."""
    return typing.cast(dict[str, forms.Field], cls.base_fields)  # type: ignore[attr-defined]


def ordered_fields(cls: type[forms.BaseForm]) -> dict[str, forms.Field]:
    """The fields in the order an instance shows them: `field_order` first (Django's rule:
    unknown names ignored), then the rest as declared."""
    fields = dict(base_fields(cls))
    order = getattr(cls, "field_order", None)
    if not order:
        return fields
    out = {name: fields.pop(name) for name in order if name in fields}
    out.update(fields)
    return out
