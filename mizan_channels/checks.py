"""System checks: misconfiguration is reported at start-up with an id and a hint.

Secrets: an error when DEBUG is False (production must not run with them), a warning in
development so the example and a fresh project still start. Elsewhere an Error means the
project cannot work, a Warning that it works, wrongly.

Ids by group: 00x secrets, 01x settings, 02x declarations, 03x wiring (URLconf, ASGI).
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import asgiref
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from . import conf, threads
from .broker import redis_url
from .registry import FunctionSpec, registry

MIN_SECRET = 32
WEAK = {"", "changeme", "secret", "..."}


def _secret_problem(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"{name} is not set."
    if value in WEAK or len(value) < MIN_SECRET:
        return f"{name} is weak: use at least {MIN_SECRET} random characters."
    if value == getattr(settings, "SECRET_KEY", None):
        return f"{name} equals SECRET_KEY; it must be a separate secret."
    return None


@checks.register(checks.Tags.security, deploy=False)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    s = conf.get()
    out: list[checks.CheckMessage] = []
    level = checks.Warning if settings.DEBUG else checks.Error
    hint = (
        "Generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
        "and set it from the environment in settings.py."
    )
    letter = "W" if level is checks.Warning else "E"
    for number, name, value in (
        (1, "MIZAN_CACHE_SECRET", s.CACHE_SECRET),
        (2, "MIZAN_MWT_SECRET", s.MWT_SECRET),
    ):
        problem = _secret_problem(name, value)
        if problem:
            out.append(level(problem, hint=hint, id=f"mizan_channels.{letter}00{number}"))
    if s.CACHE_SECRET and s.CACHE_SECRET == s.MWT_SECRET:
        out.append(
            level(
                "MIZAN_CACHE_SECRET and MIZAN_MWT_SECRET are the same value.",
                hint="Use two independent secrets so one leaking does not expose the other.",
                id=f"mizan_channels.{letter}003",
            )
        )
    return out


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    s = conf.get()
    out: list[checks.CheckMessage] = []
    for name in ("MAX_FRAME_BYTES", "RATE_LIMIT", "MAX_IN_FLIGHT", "MAX_SUBSCRIPTIONS", "MWT_TTL"):
        value = getattr(s, name)
        if type(value) is not int or value <= 0:
            out.append(
                checks.Error(
                    f"MIZAN_{name} must be a positive integer, got {value!r}.",
                    hint=f"Remove MIZAN_{name} to use the default, or set a number above 0.",
                    id="mizan_channels.E010",
                )
            )
    if type(s.SYNC_WORKERS) is not int or s.SYNC_WORKERS < 0:
        out.append(
            checks.Error(
                f"MIZAN_SYNC_WORKERS must be 0 or a positive integer, got {s.SYNC_WORKERS!r}.",
                hint="0 (the default) sizes the pool like the stdlib: min(32, CPUs + 4).",
                id="mizan_channels.E010",
            )
        )
    if not isinstance(s.WS_PATH, str) or not s.WS_PATH.startswith("/"):
        out.append(
            checks.Error(
                f"MIZAN_WS_PATH must be a path starting with '/', got {s.WS_PATH!r}.",
                hint="For example MIZAN_WS_PATH = '/ws/mizan/'.",
                id="mizan_channels.E011",
            )
        )
    if "*" in getattr(settings, "ALLOWED_HOSTS", []):
        out.append(
            checks.Warning(
                "ALLOWED_HOSTS contains '*': the socket's origin check then admits pages from "
                "any site, which can open sockets with a visitor's session cookie.",
                hint="List your hosts in ALLOWED_HOSTS (e.g. ['chat.example.com']).",
                id="mizan_channels.W013",
            )
        )
    if not threads.native_hop():
        out.append(
            checks.Info(
                f"asgiref {asgiref.__version__} is not a version mizan's sync hop was checked "
                "with (3.8 to 3.13): `def` functions and hooks run through asgiref's "
                "SyncToAsync instead, which behaves the same at about 30% more CPU per call.",
                hint="Upgrade mizan-channels, or keep asgiref below 3.14 where that CPU matters.",
                id="mizan_channels.I014",
            )
        )
    if "channels" not in settings.INSTALLED_APPS and "daphne" not in settings.INSTALLED_APPS:
        out.append(
            checks.Warning(
                "'channels' is not in INSTALLED_APPS.",
                hint="Add 'channels' (or 'daphne' first) to INSTALLED_APPS for the socket.",
                id="mizan_channels.W012",
            )
        )
    return out


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


def _mentions_mizan(origin: str) -> bool:
    """Whether a module's source uses mizan: `clients.py` is also a common name for modules
    of API clients that have nothing to do with us."""
    try:
        return "mizan_channels" in Path(origin).read_text(encoding="utf-8", errors="replace")
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


def _process_local_alias(alias: str) -> bool:
    caches = getattr(settings, "CACHES", {})
    return "locmem" in str(caches.get(alias, {}).get("BACKEND", "")).lower()


@checks.register(checks.Tags.caches)
def check_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With Redis fan-out, process B's mutation tells sockets on process A to refetch; a
    cache of A's own still holds what B dropped, so the refetch reads a stale value. With no
    cache setting the cache follows the fan-out's Redis; this catches an alias that opts out."""
    s = conf.get()
    fanout = redis_url()
    if not s.CACHE_SECRET or not s.CACHE_ALIAS or not fanout:
        return []
    if not _process_local_alias(s.CACHE_ALIAS):
        return []
    return [
        checks.Warning(
            f"MIZAN_CACHE_ALIAS={s.CACHE_ALIAS!r} is a memory cache of each process, while "
            "invalidations cross processes through Redis: a refetch on one process can read "
            "a context value that another process's mutation dropped.",
            hint="Remove MIZAN_CACHE_ALIAS (the cache then shares the fan-out's Redis), or "
            f"set MIZAN_CACHE_REDIS_URL (e.g. {fanout!r}), or point the alias at a Redis "
            "cache. Silence this only when one process serves every socket.",
            id="mizan_channels.W015",
        )
    ]


@checks.register(checks.Tags.urls)
def check_urls(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Without mizan's URLs, HTTP calls, context fetches and MWTs 404, and so does the
    browser runtime's HTTP path; the socket alone still works, hence a warning."""
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("mizan_channels:call", kwargs={"fn": "f"})
    except NoReverseMatch:
        return [
            checks.Warning(
                "mizan_channels.urls is not included in the root URLconf: HTTP calls, "
                "context fetches and MWT requests answer 404.",
                hint=f'Add `path("api/mizan/", include("mizan_channels.urls"))` to '
                f"urlpatterns in {settings.ROOT_URLCONF}.",
                id="mizan_channels.W030",
            )
        ]
    return []


ASGI_HINT = (
    "In asgi.py: `application = wrap_asgi(get_asgi_application())` "
    "(from mizan_channels import wrap_asgi), and ASGI_APPLICATION = '<project>.asgi.application'."
)


def _serves_asgi() -> bool:
    return apps.is_installed("daphne") or apps.is_installed("channels")


@checks.register()
def check_asgi(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """ASGI_APPLICATION imports, and mounts our socket. Importing it runs the project's
    asgi.py, as daphne's runserver does right after its checks: `get_asgi_application()` on
    an already set-up Django only builds the middleware chain. Judged only when the setting
    is set and Channels or daphne is installed, the only cases where anything reads it."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return _asgi_unset()
    if not _serves_asgi():
        return []
    try:
        import_string(path)
    except Exception as exc:  # whatever asgi.py raises stops the server the same way
        # A warning: checks run before `migrate` too, and an asgi.py that needs the web
        # container's environment must not stop a release step elsewhere.
        return [
            checks.Warning(
                f"ASGI_APPLICATION={path!r} can't be imported: {type(exc).__name__}: {exc}",
                hint=ASGI_HINT,
                id="mizan_channels.W031",
            )
        ]
    from .consumers import routing  # imports Channels' auth: only once the apps are ready

    if routing.routes_built():
        return []
    return [
        checks.Warning(
            f"ASGI_APPLICATION={path!r} has no mizan socket: importing it never called "
            "wrap_asgi(), websocket_urlpatterns() or MizanConsumer.as_asgi(), so sockets at "
            f"{conf.get().WS_PATH} are refused.",
            hint=ASGI_HINT,
            id="mizan_channels.W032",
        )
    ]


def _asgi_unset() -> list[checks.CheckMessage]:
    """daphne's runserver serves ASGI_APPLICATION and refuses to start without it; a
    project started with `daphne myproject.asgi:application` doesn't need it."""
    if not apps.is_installed("daphne"):
        return []
    return [
        checks.Warning(
            "ASGI_APPLICATION is not set: `manage.py runserver` (daphne's) can't start.",
            hint=ASGI_HINT,
            id="mizan_channels.W033",
        )
    ]
