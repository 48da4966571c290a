"""Functions and channels the test suite calls, one per behaviour under test."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

from django.http import HttpResponse
from pydantic import BaseModel

from mizan_channels import ReactChannel, client, register
from mizan_channels.exceptions import Forbidden


class EchoOutput(BaseModel):
    message: str


@client(websocket=True)
def echo(request, text: str) -> EchoOutput:
    return EchoOutput(message=text)


register(echo, "echo")


@client(websocket=True)
async def aecho(request, text: str, times: int = 1) -> EchoOutput:
    return EchoOutput(message=text * times)


@client(websocket=True)
async def atimeout(request) -> str:
    """Enters a timeout before its first wait and lets it expire: it cancels this call only."""
    try:
        async with asyncio.timeout(0.01):
            await asyncio.Event().wait()
    except TimeoutError:
        return "timed out"
    return "never"


@client(websocket=True)
async def agroup(request) -> str:
    """A task group entered before the first wait, whose child fails: the group cancels its
    parent task, which must be this call's and nothing else's."""

    async def fail() -> None:
        await asyncio.sleep(0)
        raise ValueError("child failed")

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.Event().wait())
            group.create_task(fail())
    except ExceptionGroup:
        return "caught"
    return "never"


@client(websocket=True)
async def aawaits_cancelled(request) -> str:
    """Awaits a future that was cancelled: CancelledError, with nothing cancelling the call."""
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    await future
    return "never"


_probe: contextvars.ContextVar[str] = contextvars.ContextVar("probe", default="unset")


@client(websocket=True)
async def amark(request, value: str) -> str:
    """Sets a context variable and returns what it found there first."""
    previous = _probe.get()
    _probe.set(value)
    return previous


@client
def http_only(request) -> str:
    return "http"


@client(websocket=True)
def slow(request, seconds: float) -> str:
    time.sleep(seconds)
    return threading.current_thread().name


@client(websocket=True)
async def aslow(request, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@client(websocket=True)
def boom(request) -> str:
    raise RuntimeError("secret internals")


@client(websocket=True)
def refuse(request) -> str:
    raise Forbidden("no")


@client(websocket=True, auth=True)
def whoami(request) -> str:
    return request.user.get_username()


@client(websocket=True, auth="staff")
def staff_only(request) -> str:
    return "staff"


@client(websocket=True, auth="superuser")
def super_only(request) -> str:
    return "super"


@client(websocket=True, auth=lambda request: request.user.get_username().startswith("a"))
def a_users(request) -> str:
    return "a"


def _raising_rule(request) -> bool:
    raise ValueError("broken predicate")


@client(websocket=True, auth=_raising_rule)
def broken_rule(request) -> str:
    return "never"


@client(websocket=True)
def bad_output(request) -> int:
    return "not an int"  # type: ignore[return-value]


@client(websocket=True)
def many(request, n: int) -> list[EchoOutput]:
    return [EchoOutput(message=str(i)) for i in range(n)]


@client(websocket=True)
def maybe(request, flag: bool) -> int | None:
    return 1 if flag else None


@client(context="global", websocket=True)
def current_user(request) -> str | None:
    return request.user.get_username() if request.user.is_authenticated else None


@client(context="user", websocket=True, auth=True)
def profile(request) -> dict[str, str]:
    return {"name": request.user.get_username()}


@client(context="rooms", websocket=True, shared=True)
def room_list(request) -> list[str]:
    return ["lobby"]


@client(context="tickets", websocket=True, auth=True)
def ticket_count(request) -> int:
    """The context the ticket form's submit affects (forms.py); an undeclared one is W022."""
    return 0


@client(websocket=True, affects="user")
def touch_profile(request) -> bool:
    return True


@client(websocket=True, affects=["rooms", "user"])
def add_room(request, name: str) -> str:
    return name


@client(websocket=True, affects="user")
def failing_mutation(request) -> bool:
    raise RuntimeError("failed")


@client(route="/hello/<str:who>/")
def hello_view(request, who: str) -> HttpResponse:
    return HttpResponse(f"hello {who}")


class ChatChannel(ReactChannel):
    class Params(BaseModel):
        room: str

    class DjangoMessage(BaseModel):
        text: str
        user: str

    class ReactMessage(BaseModel):
        text: str

    def authorize(self, params):
        return params.room != "secret" or self.user.is_staff

    def group(self, params):
        return f"chat_{params.room}"

    def receive(self, params, message):
        ChatChannel.push(
            ChatChannel.DjangoMessage(text=message.text, user=self.user.get_username()),
            room=params.room,
        )
        return {"stored": True}


class NewsChannel(ReactChannel):
    class Params(BaseModel):
        pass

    class DjangoMessage(BaseModel):
        headline: str

    def group(self, params):
        return "news"


_barrier = threading.Barrier(2, timeout=5)
_gate = threading.Event()


@client(websocket=True)
def rendezvous(request) -> bool:
    """Passes only when two calls run at the same time (proves they don't serialize)."""
    try:
        _barrier.wait()
    except threading.BrokenBarrierError:
        _barrier.reset()
        raise
    return True


@client(websocket=True)
def gate_wait(request) -> str:
    """Blocks a worker thread until gate_open is called."""
    if not _gate.wait(5):
        raise TimeoutError("gate never opened")
    _gate.clear()
    return "passed"


@client(websocket=True)
def gate_open(request) -> bool:
    _gate.set()
    return True


@client(websocket=True)
async def agate_wait(request) -> str:
    """Async twin: waits on the loop, without a thread."""
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, _gate.wait, 5)
    _gate.clear()
    return "passed" if ok else "timeout"


@client(websocket=True)
def surrogate(request) -> str:
    return "\ud800"


@client(websocket=True)
def unserializable(request) -> dict[str, int]:
    return {"a": object()}  # type: ignore[dict-item]


@client(websocket=True, auth=True, affects="user")
def rename_me(request, name: str) -> str:
    return name


cancelled = asyncio.Event()


@client(websocket=True)
async def acancellable(request) -> str:
    """Waits forever; records its cancellation (disconnect must cancel in-flight calls)."""
    try:
        await asyncio.Event().wait()
    finally:
        cancelled.set()
    return "unreachable"


class RequestInfo(BaseModel):
    transport: str
    method: str
    user: str
    origin: str
    is_websocket: bool


@client(websocket=True)
def request_info(request) -> RequestInfo:
    return RequestInfo(
        transport=getattr(request, "mizan_transport", "?"),
        method=request.method,
        user=request.user.get_username(),
        origin=request.META.get("HTTP_ORIGIN", ""),
        is_websocket=getattr(request, "is_websocket", False),
    )


# Contexts, cache and invalidation (issue 5) ------------------------------------------------

#: How many times each context value was computed, by "<function>:<caller>": a cache hit
#: leaves it unchanged. Tests read deltas; they never reset it.
computed: dict[str, int] = {}
_computed_lock = threading.Lock()


def caller_of(request) -> str:
    """Who asked: "u:<username>", "s:<session key>" or "anon"."""
    if request.user.is_authenticated:
        return "u:" + request.user.get_username()
    key = getattr(getattr(request, "session", None), "session_key", None)
    return f"s:{key}" if key else "anon"


def _count(name: str) -> int:
    with _computed_lock:
        computed[name] = computed.get(name, 0) + 1
        return computed[name]


class Counted(BaseModel):
    who: str
    n: int


@client(context="mine", websocket=True)
def mine(request) -> Counted:
    """Per-caller value that counts its computations (proves hits, misses and ownership)."""
    who = caller_of(request)
    return Counted(who=who, n=_count(f"mine:{who}"))


@client(context="mine", websocket=True)
async def mine_too(request) -> Counted:
    who = caller_of(request)
    return Counted(who=who, n=_count(f"mine_too:{who}"))


@client(context="board", websocket=True, shared=True)
def board(request) -> Counted:
    """Shared: the same value for everyone, cached once."""
    return Counted(who="everyone", n=_count("board"))


@client(websocket=True, affects="mine")
def touch_mine(request) -> bool:
    return True


@client(websocket=True, affects=mine_too)
def touch_mine_too(request) -> bool:
    return True


@client(websocket=True, affects=board)
def touch_board(request) -> bool:
    return True


@client(websocket=True, affects=["mine", board])
def touch_both(request) -> bool:
    return True


@client(websocket=True, affects="mine")
def fail_mine(request) -> bool:
    raise RuntimeError("mutation failed")


@client(context="ssr", websocket=True)
def ssr_payload(request) -> dict[str, str]:
    """Hostile text for the SSR tag: must stay data, never markup."""
    return {"html": "</script><script>alert(1)</script><!--", "amp": "a & b < c > d"}


@client(context="private", auth=True)
def private_ctx(request) -> str:
    return request.user.get_username()


@client(context="broken")
def broken_ctx(request) -> int:
    raise RuntimeError("context body failed")


@client(websocket=True)
def sign_in(request, username: str, password: str) -> bool:
    """Django's own authenticate() and login(), as any sign-in view would call them."""
    from django.contrib.auth import authenticate, login

    user = authenticate(request, username=username, password=password)
    if user is None:
        return False
    login(request, user)
    return True


@client(websocket=True)
def sign_out(request) -> bool:
    from django.contrib.auth import logout

    logout(request)
    return True


class FeedChannel(ReactChannel):
    """A channel that keeps history, for resume-with-`since` tests."""

    history = 5

    class Params(BaseModel):
        topic: str

    class DjangoMessage(BaseModel):
        n: int

    def group(self, params):
        return params.topic


@client(websocket=True)
async def publish_numbered(request, topic: str, n: int) -> bool:
    """Push `n` on a feed (the fault tests' publisher)."""
    await FeedChannel.apush(FeedChannel.DjangoMessage(n=n), topic=topic)
    return True


# Presence (issue 14) ----------------------------------------------------------------------


class PresenceRoomChannel(ReactChannel):
    """`presence = True`: each connection shows its user's id and username."""

    presence = True

    class Params(BaseModel):
        room: str

    class DjangoMessage(BaseModel):
        text: str

    def group(self, params):
        return f"presence_room_{params.room}"


class PresenceCardChannel(ReactChannel):
    """Presence with typed metadata from a hook that sees the params; `hidden` connections
    watch the roster without being in it."""

    class Params(BaseModel):
        room: str
        tab: str = ""
        hidden: bool = False

    class DjangoMessage(BaseModel):
        text: str

    class PresenceMeta(BaseModel):
        name: str
        tab: str

    def group(self, params):
        return f"presence_card_{params.room}"

    def presence_meta(self, params) -> PresenceMeta | None:
        if params.hidden:
            return None
        name = self.user.get_username() if self.user.is_authenticated else "guest"
        return self.PresenceMeta(name=name.upper(), tab=params.tab)


@client(websocket=True)
def presence_room_members(request, room: str) -> dict[str, list[str]]:
    """The server API from a server function: who is in a presence room, per user."""
    roster = PresenceRoomChannel.presence(room=room)
    return {key: [m.username for m in metas] for key, metas in roster.items()}


# Security suite (issue 11) -------------------------------------------------------------


class GuardedChannel(ReactChannel):
    """authorize() by mode: "open", "closed" (False), "raise", "staff"."""

    class Params(BaseModel):
        mode: str

    class DjangoMessage(BaseModel):
        text: str

    def authorize(self, params):
        if params.mode == "raise":
            raise RuntimeError("secret internals of authorize")
        if params.mode == "closed":
            return False
        if params.mode == "staff":
            return self.user.is_staff
        return True

    def group(self, params):
        return params.mode


class Credentials(BaseModel):
    username: str
    password: str


@client(websocket=True)
def nested_secrets(request, creds: Credentials, items: list[dict[str, str]]) -> bool:
    """Secrets inside a model argument and inside a list: logs must never show them."""
    return True
