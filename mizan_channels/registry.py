"""Specs by name: functions, channels and forms, with duplicate detection and listing.

Declarations (`@client`, `ReactChannel` subclasses, forms) are turned into frozen specs once,
when declared; the HTTP view, the socket consumer and the IR builder all read them from here.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, TypeAdapter

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .channels import ReactChannel

AuthRule = None | Literal["user", "staff", "superuser"] | Callable[[Any], Any]
#: What `affects=` holds after decoration: a context name, or a decorated function.
Affect = str | Callable[..., Any]


@dataclass(frozen=True, eq=False)
class FunctionSpec:
    """Everything known about one server function, derived once from its declaration."""

    fn: Callable[..., Any]
    qualname: str
    location: str
    is_async: bool
    input_model: type[BaseModel]
    params: tuple[str, ...]
    output: Any
    output_adapter: TypeAdapter[Any] | None
    context: str | None = None
    affects: tuple[Affect, ...] = ()
    websocket: bool = False
    auth: AuthRule = None
    route: str | None = None
    rev: int = 1
    shared: bool = False
    name: str = ""
    #: Set for functions generated from a form (`contact.submit`): the form's name.
    form: str | None = None

    @property
    def auth_kind(self) -> str | None:
        """The IR's word for the rule: user, staff, superuser, custom, or None (public)."""
        if self.auth is None:
            return None
        return self.auth if isinstance(self.auth, str) else "custom"


def location_of(obj: Any) -> str:
    """`path/file.py:LINE` of a declaration, for error messages that name both sides."""
    try:
        target = inspect.unwrap(obj)
        file = inspect.getsourcefile(target) or "?"
        line = inspect.getsourcelines(target)[1]
        return f"{file}:{line}"
    except (OSError, TypeError):
        return getattr(obj, "__module__", "?")


class Registry:
    """Specs by name. Thread-safe registration; reads are plain dict lookups."""

    def __init__(self) -> None:
        self.functions: dict[str, FunctionSpec] = {}
        self.channels: dict[str, type[ReactChannel]] = {}
        self.forms: dict[str, type[Any]] = {}
        self._lock = threading.Lock()

    def add_function(self, spec: FunctionSpec, name: str) -> FunctionSpec:
        """Register `spec` under `name`. Registering the same function again under the same
        name is a no-op (modules get re-imported); anything else under a taken name raises."""
        _check_name(name, "function")
        with self._lock:
            existing = self.functions.get(name)
            if existing is not None:
                if existing.qualname == spec.qualname and existing.location == spec.location:
                    self.functions[name] = replace(spec, name=name)
                    return self.functions[name]
                raise ConfigurationError(
                    f"Function name {name!r} is registered twice: by {existing.qualname} "
                    f"({existing.location}) and by {spec.qualname} ({spec.location}). "
                    f"Pass a different name to register(fn, name)."
                )
            named = replace(spec, name=name)
            self.functions[name] = named
            return named

    def add_channel(self, name: str, cls: type[ReactChannel]) -> None:
        _check_name(name, "channel")
        with self._lock:
            existing = self.channels.get(name)
            if existing is not None and (
                existing.__module__ != cls.__module__ or existing.__qualname__ != cls.__qualname__
            ):
                raise ConfigurationError(
                    f"Channel name {name!r} is declared twice: by "
                    f"{existing.__module__}.{existing.__qualname__} and by "
                    f"{cls.__module__}.{cls.__qualname__}. Set `name = '...'` on one of them."
                )
            self.channels[name] = cls

    def add_form(self, name: str, cls: type[Any]) -> None:
        _check_name(name, "form")
        with self._lock:
            existing = self.forms.get(name)
            if existing is not None and (
                existing.__module__ != cls.__module__ or existing.__qualname__ != cls.__qualname__
            ):
                raise ConfigurationError(
                    f"Form name {name!r} is declared twice: by "
                    f"{existing.__module__}.{existing.__qualname__} and by "
                    f"{cls.__module__}.{cls.__qualname__}. Give one a different mizan name."
                )
            self.forms[name] = cls

    def function(self, name: str) -> FunctionSpec | None:
        return self.functions.get(name)

    def iter_functions(self) -> Iterator[FunctionSpec]:
        """Functions sorted by name (stable for the IR and tooling)."""
        for name in sorted(self.functions):
            yield self.functions[name]

    def contexts(self) -> dict[str, list[FunctionSpec]]:
        """Context name -> its functions, sorted by name."""
        out: dict[str, list[FunctionSpec]] = {}
        for spec in self.iter_functions():
            if spec.context:
                out.setdefault(spec.context, []).append(spec)
        return out

    def name_of(self, fn: Callable[..., Any]) -> str | None:
        """The registered name of a decorated function, or None if it was never registered."""
        spec = getattr(fn, "__mizan__", None)
        if spec is None:
            return None
        for name, registered in self.functions.items():
            if registered.fn is spec.fn:
                return name
        return None

    def clear(self) -> None:
        """Forget everything (tests only)."""
        with self._lock:
            self.functions.clear()
            self.channels.clear()
            self.forms.clear()


def _check_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ConfigurationError(f"A {kind} name must be a non-empty string, got {name!r}.")
    if any(c in name for c in "/ \t\r\n?#"):
        raise ConfigurationError(
            f"{kind.capitalize()} name {name!r} may not contain '/', '?', '#' or whitespace: "
            "it appears in URLs and frames."
        )


registry = Registry()
