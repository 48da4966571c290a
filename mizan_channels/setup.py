"""`register()` and `mizan_clients()`: how declared functions enter the registry."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from django.apps import apps

from .exceptions import ConfigurationError
from .registry import FunctionSpec, registry

logger = logging.getLogger("mizan_channels")


def register(fn: Callable[..., Any], name: str | None = None) -> Callable[..., Any]:
    """Expose an `@client` function under `name` (default: its Python name).

    Raises ConfigurationError when `fn` was not decorated with `@client`, or when the name
    is taken by another function (the message names both locations). Returns `fn`.
    """
    spec: FunctionSpec | None = getattr(fn, "__mizan__", None)
    if spec is None:
        raise ConfigurationError(
            f"register({getattr(fn, '__qualname__', fn)!r}): decorate the function with "
            "@client first, e.g. `@client` on the line above `def`."
        )
    named = registry.add_function(spec, name or fn.__name__)  # type: ignore[attr-defined]
    fn.__mizan__ = named  # type: ignore[attr-defined]
    return fn


def _import_optional(dotted: str) -> Any:
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        if exc.name == dotted:
            logger.debug("no %s module", dotted)
            return None
        raise


def mizan_clients(app_label: str, module: str = "clients") -> None:
    """Import `<app>.clients` and register every `@client` function defined there that was
    not registered explicitly, under its Python name; also import `<app>.forms`, whose mizan
    forms register themselves. Call it from `AppConfig.ready()`.

    Raises LookupError for an unknown app label; an app without the modules is skipped.
    """
    config = apps.get_app_config(app_label)
    _import_optional(f"{config.name}.forms")
    mod = _import_optional(f"{config.name}.{module}")
    if mod is None:
        return
    for _, obj in inspect.getmembers(mod, inspect.isfunction):
        spec = getattr(obj, "__mizan__", None)
        if spec is None or obj.__module__ != mod.__name__:
            continue
        if registry.name_of(obj) is None:
            register(obj)
