"""HTTP transport: thin views over `invoke` (calls), contexts and MWT issue.

They only translate between Django requests and the invocation path. CSRF is Django's own
check: the call view runs the project's CSRF middleware itself (the middleware skips it), so
that a refusal is a protocol error with a JSON body like every other, not Django's HTML page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string
from django.views.decorators.csrf import ensure_csrf_cookie

from . import conf, contexts, mwt, protocol
from .auth import check, is_authenticated
from .exceptions import BadFrame, Forbidden, MizanError, TooLarge, Unauthorized
from .invoke import invoke, run, validate_args
from .registry import FunctionSpec

logger = logging.getLogger("mizan_channels")
csrf_logger = logging.getLogger("django.security.csrf")

JSON = "application/json"
#: The bodies Django parses into `request.POST`, which the CSRF check reads: never JSON
#: arguments, and parsing a multipart one there consumes the body (reading it afterwards is
#: an error) or, malformed, answers with Django's HTML page instead of a protocol error.
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def json_response(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type=JSON)


def error_response(exc: MizanError) -> HttpResponse:
    return json_response(protocol.dumps({"error": exc.payload()}), exc.status)


async def resolve_user(request: HttpRequest) -> None:
    """Load the session user once, in async code, so neither auth rules nor sync function
    bodies touch the database lazily from the event loop."""
    auser = getattr(request, "auser", None)
    if auser is not None:
        request.user = await auser()
    request.mizan_transport = "http"  # type: ignore[attr-defined]


def allow(method: str) -> Callable[[Any], Any]:
    """Like Django's `require_http_methods([method])`, but a request with another method gets
    the protocol's JSON error (`bad_frame`, with status 405 and `Allow`) rather than an empty
    HTML response a client can't read an error from."""

    def decorate(view: Callable[..., Awaitable[HttpResponse]]) -> Any:
        @functools.wraps(view)
        async def only(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                response = error_response(BadFrame(f"Use {method}."))
                response.status_code = 405  # the code a client reads; the status HTTP's
                response["Allow"] = method
                return response
            return await view(request, *args, **kwargs)

        return only

    return decorate


def _read_args(request: HttpRequest) -> Any:
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = conf.get().MAX_FRAME_BYTES
    if not (length.isascii() and length.isdigit()):  # negative, not a number ("²" is a digit)
        raise BadFrame("Content-Length is not a length.")
    if int(length) > limit:
        raise TooLarge(f"Body is larger than {limit} bytes.")
    body = request.body
    if len(body) > limit:
        raise TooLarge(f"Body is larger than {limit} bytes.")
    if not body.strip():
        return {}
    try:
        args = protocol.loads(body)
    except ValueError:
        raise BadFrame("Body is not valid JSON.") from None
    if args is None:  # as a socket `call` with `"args": null`
        return {}
    if not isinstance(args, dict):  # ... or with `args` that is not an object
        raise BadFrame("Body must be a JSON object of arguments.")
    return args


def _reject_with_reason(self: CsrfViewMiddleware, request: HttpRequest, reason: str) -> str:
    """The middleware's refusal, logged where Django logs it, answering with the reason
    instead of the failure view's page."""
    csrf_logger.warning(
        "Forbidden (%s): %s", reason, request.path, extra={"status_code": 403, "request": request}
    )
    return reason


@functools.cache
def _csrf_checker(middleware: tuple[str, ...]) -> CsrfViewMiddleware | None:
    """The project's own CSRF middleware (Django's, or a subclass with rules of its own),
    run inside the call view the way Django REST framework runs it; None when the project
    lists none (it has chosen not to check)."""
    for dotted in middleware:
        cls = import_string(dotted)
        if isinstance(cls, type) and issubclass(cls, CsrfViewMiddleware):
            checker = type(f"Json{cls.__name__}", (cls,), {"_reject": _reject_with_reason})
            return cast(CsrfViewMiddleware, checker(_no_response))
    return None


def _csrf_check(request: HttpRequest) -> None:
    """Raises Forbidden when the project's CSRF middleware would refuse `request`."""
    checker = _csrf_checker(tuple(settings.MIDDLEWARE))
    if checker is None:
        return
    reason = checker.process_view(request, None, (), {})  # type: ignore[arg-type]
    if isinstance(reason, str):
        raise Forbidden(f"CSRF verification failed: {reason}")


def _no_response(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the CSRF check never calls the view")


@allow("POST")
async def call_view(request: HttpRequest, fn: str) -> HttpResponse:
    """`POST {prefix}call/{fn}`: 200 {"data", "inv"} or the error's status and body."""
    try:
        if request.content_type in FORM_TYPES:
            raise BadFrame("Body must be a JSON object of arguments, not a form.")
        _csrf_check(request)
        args = _read_args(request)
        await resolve_user(request)
        outcome = await invoke(fn, args, request, transport="http")
    except MizanError as exc:
        return error_response(exc)
    body = protocol.dumps({"data": protocol.Fragment(outcome.data), "inv": outcome.inv})
    return json_response(body)


call_view.csrf_exempt = True  # type: ignore[attr-defined]  # from the middleware: see _csrf_check


@allow("GET")
@ensure_csrf_cookie  # a page's first fetch gives it the token its mutations will need
async def context_view(request: HttpRequest, name: str) -> HttpResponse:
    """`GET {prefix}ctx/{name}`: every function of the context in one reply."""
    try:
        await resolve_user(request)
        data = await contexts.fetch(name, request)
    except MizanError as exc:
        return error_response(exc)
    return json_response(protocol.dumps({"data": data}))


@allow("GET")
async def mwt_view(request: HttpRequest) -> HttpResponse:
    """`GET {prefix}mwt`: a short-lived socket token for the session's user."""
    await resolve_user(request)
    if not is_authenticated(request.user):
        return error_response(Unauthorized())
    try:
        token, expires = await mwt.aissue(request.user, request.session.session_key)
    except MizanError as exc:  # no MIZAN_MWT_SECRET: a JSON error like every other
        return error_response(exc)
    response = json_response(protocol.dumps({"token": token, "expires": expires}))
    response["Cache-Control"] = "no-store"
    return response


def route_view(spec: FunctionSpec) -> Any:
    """A view for a `route=` function: URL kwargs are its arguments, its response is ours."""

    async def view(request: HttpRequest, **url_kwargs: Any) -> HttpResponseBase:
        try:
            await resolve_user(request)
            await check(spec.auth, request, spec.name)
            kwargs = validate_args(spec, url_kwargs)
        except MizanError as exc:
            return error_response(exc)
        result: HttpResponseBase = await run(spec, request, kwargs)
        return result

    view.__name__ = f"mizan_route_{spec.name}"
    return view
