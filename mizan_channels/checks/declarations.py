"""Checks of declarations, judged once every app is loaded: what `affects=` names, contexts
whose functions disagree, and client modules nobody loaded."""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core import checks

from ..registry import FunctionSpec, registry


def _unknown_context(spec: FunctionSpec, name: str, contexts: list[str]) -> checks.Warning:
    """A string in affects= is always a context name: a typo there is never invalidated, so
    the context it meant silently stays stale. A warning: the project works, wrongly (and a
    page may listen for a key no server function declares)."""
    close = difflib.get_close_matches(name, contexts, n=3)
    if close:
        hint = "Did you mean " + " or ".join(repr(c) for c in close) + "?"
    elif registry.function(name) is not None:
        hint = f"{name!r} is a function: pass the function itself, affects={name}."
    else:
        hint = "Declared contexts: " + (", ".join(map(repr, contexts)) or "none") + "."
    return checks.Warning(
        f"{spec.name} declares affects={name!r}, but no context {name!r} is declared.",
        hint=hint + " A context exists once some @client(context=...) function is registered.",
        obj=spec.qualname,
        id="mizan_channels.W022",
    )


#: Where the functions `mizan_channels.contrib.allauth.enable()` registers are defined: their
#: string affects= come from enable(context=, invalidates=), not from the project's code.
_ALLAUTH_FUNCTIONS = "mizan_channels.contrib.allauth.functions."


def _unknown_enable_context(
    name: str, specs: list[FunctionSpec], contexts: list[str]
) -> checks.Warning:
    """W022 for the allauth functions: one warning per undeclared name, pointing at the
    enable() call that chose it (by default invalidates=("user",)), not at library code the
    project never wrote. Judged here rather than in enable(): contexts may be registered
    after it runs."""
    declared = ", ".join(map(repr, contexts)) or "none"
    return checks.Warning(
        f"mizan_channels.contrib.allauth.enable() makes {', '.join(s.name for s in specs)} "
        f"invalidate the context {name!r}, but no context {name!r} is declared.",
        hint="enable() invalidates ('user',) by default. Pass the contexts of your own that "
        "show who is signed in, enable(invalidates=(...)), or enable(invalidates=()) if none "
        f"does. Declared contexts: {declared}.",
        obj="mizan_channels.contrib.allauth.enable",
        id="mizan_channels.W022",
    )


def _affects_problems(
    spec: FunctionSpec, contexts: list[str], from_enable: dict[str, list[FunctionSpec]]
) -> list[checks.CheckMessage]:
    """Problems of `spec`'s affects=; undeclared contexts of the allauth functions are
    collected into `from_enable` instead, to be reported once per name."""
    out: list[checks.CheckMessage] = []
    for target in spec.affects:
        if isinstance(target, str):
            if target in contexts:
                continue
            if spec.qualname.startswith(_ALLAUTH_FUNCTIONS):
                from_enable.setdefault(target, []).append(spec)
            else:
                out.append(_unknown_context(spec, target, contexts))
        elif callable(target) and registry.name_of(target) is None:
            out.append(
                checks.Error(
                    f"{spec.name} declares affects={target.__qualname__}, which is not registered.",
                    hint="register() that function, or list it in a clients.py that "
                    "mizan_clients() loads.",
                    obj=spec.qualname,
                    id="mizan_channels.E020",
                )
            )
    return out


#: An import of this package under either name (`mizan` is the seed's, mizan/__init__.py).
_IMPORTS_MIZAN = re.compile(r"^\s*(?:from|import)\s+mizan(?:_channels)?\b", re.M)


def _mentions_mizan(origin: str) -> bool:
    """Whether a module's source uses mizan: `clients.py` is also a common name for modules
    of API clients that have nothing to do with us."""
    try:
        return bool(
            _IMPORTS_MIZAN.search(Path(origin).read_text(encoding="utf-8", errors="replace"))
        )
    except OSError:
        return False


def _unloaded_clients() -> list[checks.CheckMessage]:
    """Apps whose `clients.py` uses mizan but was never imported once every app was ready:
    nothing registered its functions (the README's `mizan_clients()` call is missing from
    the app's `AppConfig.ready()`), so they 404 and the IR leaves them out."""
    out: list[checks.CheckMessage] = []
    for config in apps.get_app_configs():
        dotted = f"{config.name}.clients"
        if dotted in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(dotted)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or not _mentions_mizan(spec.origin):
            continue
        out.append(
            checks.Warning(
                f"{dotted} uses mizan_channels but was never imported: its functions are "
                "not registered (calls answer unknown_function, the IR lacks them).",
                hint=f"In {config.name}'s AppConfig.ready(): `from mizan_channels.setup "
                f'import mizan_clients` and `mizan_clients("{config.label}")`.',
                obj=config.name,
                id="mizan_channels.W023",
            )
        )
    return out


@checks.register()
def check_registry(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Declarations that can only be judged once every app is loaded."""
    out: list[checks.CheckMessage] = []
    contexts = sorted(registry.contexts())
    from_enable: dict[str, list[FunctionSpec]] = {}
    for spec in registry.iter_functions():
        out += _affects_problems(spec, contexts, from_enable)
    for name, specs in from_enable.items():
        out.append(_unknown_enable_context(name, specs, contexts))
    for name, specs in registry.contexts().items():
        shared = {s.shared for s in specs}
        if len(shared) > 1:
            out.append(
                checks.Error(
                    f"Context {name!r} mixes shared=True and shared=False functions.",
                    hint="A context is shared as a whole: set the same shared= on each of "
                    + ", ".join(s.name for s in specs)
                    + ".",
                    id="mizan_channels.E021",
                )
            )
    out += _unloaded_clients()
    return out
