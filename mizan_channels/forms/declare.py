"""Declaring a form: `mizan = mizanFormMeta(...)` on a `mizanFormMixin` form becomes three
registered server functions, `<name>.schema`, `<name>.validate` and `<name>.submit`.

Registration happens in a metaclass because only after Django's form metaclass has run are
the fields known (`base_fields`; for a ModelForm they come from the model), and a class
decorator or `__init_subclass__` runs too early. The metaclass extends `ModelFormMetaclass`
(so it is the most derived metaclass for both `forms.Form` and `forms.ModelForm` subclasses)
but applies the ModelForm machinery only to ModelForms.

The three functions are ordinary `FunctionSpec`s built by `build_spec`, so auth, affects,
transports, invalidation and the IR treat them exactly like `@client` functions.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django import forms
from django.forms.forms import DeclarativeFieldsMetaclass
from django.forms.models import BaseModelForm, ModelFormMetaclass

from ..client import build_spec, pascal
from ..exceptions import ConfigurationError, InvalidParams
from ..registry import FunctionSpec, location_of, registry
from ..threads import threaded
from .bind import FormValidation, fields_model, form_data, form_errors
from .describe import FormSchema, base_fields, default_name, form_schema

_OPTIONS = ("name", "title", "submit_label", "auth", "affects", "websocket")


class mizanFormMeta:  # the seed's public name (lower camel)
    """A form's mizan options. `name` defaults to the class name without `Form`, in
    snake_case; `websocket=True` (the default) also exposes the functions on the socket;
    `auth=` and `affects=` take what `@client` takes (auth applies to all three functions,
    affects only to `submit`, the one with side effects).

    Raises ConfigurationError for an unknown option, naming the closest known one.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        title: str | None = None,
        submit_label: str = "Submit",
        auth: Any = None,
        affects: Any = None,
        websocket: bool = True,
        **unknown: Any,
    ) -> None:
        if unknown:
            bad = next(iter(unknown))
            hint = difflib.get_close_matches(bad, _OPTIONS, n=1)
            raise ConfigurationError(
                f"mizanFormMeta got an unknown option {bad!r}."
                + (f" Did you mean {hint[0]!r}?" if hint else "")
                + f" Known options: {', '.join(_OPTIONS)}."
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"mizanFormMeta(name=...) takes a string, got {name!r}.")
        if not isinstance(submit_label, str):
            raise ConfigurationError(
                f"mizanFormMeta(submit_label=...) takes a string, got {submit_label!r}."
            )
        self.name = name
        self.title = title
        self.submit_label = submit_label
        self.auth = auth
        self.affects = affects
        self.websocket = websocket
        #: Registered function names by action, filled in when the form is declared.
        self.functions: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"mizanFormMeta(name={self.name!r}, title={self.title!r})"


class MizanFormMetaclass(ModelFormMetaclass):
    """Builds the form class as Django would, then registers it when it declares `mizan`."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]
    ) -> MizanFormMetaclass:
        if any(isinstance(b, type) and issubclass(b, BaseModelForm) for b in bases):
            cls = super().__new__(mcs, name, bases, attrs)
        else:
            cls = DeclarativeFieldsMetaclass.__new__(mcs, name, bases, attrs)
        if "mizan" in cls.__dict__:
            declare(cls)  # type: ignore[arg-type]
        return cls


class mizanFormMixin(metaclass=MizanFormMetaclass):  # the seed's public name (lower camel)
    """Mix into a `forms.Form` or `forms.ModelForm` (first, before the Django class) and set
    `mizan = mizanFormMeta(...)`; define `on_submit_success(self, request)` to act on
    `self.cleaned_data` (e.g. `self.save()`) and return the call's result.

    The request is also available as `self.request` during validation (`clean()`), so the
    form's rules may depend on the caller.
    """

    mizan: mizanFormMeta
    request: Any

    def __init__(self, *args: Any, request: Any = None, **kwargs: Any) -> None:
        self.request = request
        super().__init__(*args, **kwargs)


def _output_of(cls: type[Any], where: str) -> Any:
    method = getattr(cls, "on_submit_success", None)
    if method is None or not callable(method):
        raise ConfigurationError(
            f"{where} has no on_submit_success. Define `def on_submit_success(self, request)` "
            "to act on self.cleaned_data and return the call's result (e.g. {'ok': True})."
        )
    try:
        hints = typing.get_type_hints(method)
    except NameError as exc:
        raise ConfigurationError(
            f"{where}.on_submit_success: its return annotation can't be resolved ({exc}). "
            "Import the type at module level."
        ) from None
    return hints.get("return", Any)


def _stub(cls: type[Any], name: str, action: str, output: Any) -> Callable[..., Any]:
    """A `(request) -> output` function for `build_spec` to read flags and output from."""

    def stub(request: Any) -> Any:
        raise AssertionError("never called")

    stub.__annotations__ = {"request": Any, "return": output}
    stub.__module__ = cls.__module__
    stub.__qualname__ = f"{cls.__qualname__}.{action}"
    # build_spec names the input model after it: `ContactSchemaInput`, unique per form.
    stub.__name__ = f"{name}_{action}"
    return stub


def _instance(cls: type[Any], request: Any, values: dict[str, Any]) -> Any:
    form = cls(data={}, request=request)
    form_data(form, values)
    return form


def declare(form_cls: type[Any]) -> None:
    """Register a form class and its three functions. Raises ConfigurationError naming the fix."""
    cls: type[Any] = form_cls
    where = f"{cls.__module__}.{cls.__qualname__}"
    meta = cls.__dict__["mizan"]
    if not isinstance(meta, mizanFormMeta):
        raise ConfigurationError(
            f"{where}.mizan must be a mizanFormMeta(...), got {type(meta).__name__}."
        )
    if not issubclass(form_cls, forms.BaseForm):
        raise ConfigurationError(
            f"{where} declares `mizan` but is not a Django form. Write "
            f"`class {cls.__name__}(mizanFormMixin, forms.Form)` (or forms.ModelForm)."
        )
    mro = cls.__mro__
    if mro.index(mizanFormMixin) > mro.index(forms.BaseForm):
        raise ConfigurationError(
            f"{where} lists mizanFormMixin after the Django form class, so the form can't "
            f"receive the request. Put it first: `class {cls.__name__}(mizanFormMixin, "
            "forms.Form)`."
        )
    if meta.name is None:
        meta.name = default_name(cls)
    name: str = meta.name
    output = _output_of(cls, where)
    names = tuple(base_fields(cls))
    input_model = fields_model(cls, f"{pascal(name)}Fields")
    flags = {"auth": meta.auth, "websocket": meta.websocket}
    is_async = inspect.iscoroutinefunction(cls.on_submit_success)

    def values_of(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {names[int(k[1:])]: v for k, v in kwargs.items()}

    def schema(request: Any) -> FormSchema:
        return form_schema(cls(request=request), evaluate=True)

    def validate(request: Any, **kwargs: Any) -> FormValidation:
        form = _instance(cls, request, values_of(kwargs))
        return FormValidation(valid=form.is_valid(), errors=form_errors(form))

    def checked(request: Any, kwargs: dict[str, Any]) -> Any:
        form = _instance(cls, request, values_of(kwargs))
        if not form.is_valid():
            details = [e.model_dump() for e in form_errors(form)]
            raise InvalidParams(f"The {name} form has errors.", details=details)
        return form

    def submit(request: Any, **kwargs: Any) -> Any:
        return checked(request, kwargs).on_submit_success(request)

    async def asubmit(request: Any, **kwargs: Any) -> Any:
        form = await threaded(checked)(request, kwargs)
        return await form.on_submit_success(request)

    specs: list[tuple[Callable[..., Any], str, Any, tuple[()] | None, Any, bool]] = [
        (schema, "schema", FormSchema, (), None, False),
        (validate, "validate", FormValidation, None, None, False),
        (asubmit if is_async else submit, "submit", output, None, meta.affects, is_async),
    ]
    built: list[tuple[str, FunctionSpec]] = []
    for impl, action, out, params, affects, async_ in specs:
        spec = build_spec(_stub(cls, name, action, out), **flags, affects=affects)
        built.append(
            (
                f"{name}.{action}",
                replace(
                    spec,
                    fn=impl,
                    is_async=async_,
                    location=location_of(cls),
                    input_model=input_model if params is None else spec.input_model,
                    params=tuple(input_model.model_fields) if params is None else (),
                    form=name,
                ),
            )
        )
    registry.add_form(name, cls)
    for fn_name, spec in built:
        registry.add_function(spec, fn_name)
        meta.functions[fn_name.rsplit(".", 1)[1]] = fn_name
