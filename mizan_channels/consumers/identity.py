"""The socket's identity: which audiences it hears, and switching user while it is open.

A mixin of `MizanConsumer`, kept apart because identity changes arrive from three places
(an `auth` frame, a control event after sign-in or sign-out, a credential recheck after a
user is saved) and must all move the socket the same way: audiences, subscriptions,
presence, and a `resync` so the page refetches who it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .. import auth as auth_rules
from .. import identity, invalidation, mwt, protocol
from ..exceptions import MizanError

if TYPE_CHECKING:
    from ..channels import ReactChannel
    from ..hub import Event, Hub
    from ..presence.conn import ConnPresence
    from ..request import SocketRequest
    from ..session import Session
    from .socket import Subscription


class IdentityMixin:
    if TYPE_CHECKING:
        request: SocketRequest
        scope: dict[str, Any]
        hub: Hub
        session: Session
        audiences: dict[str, str]
        subs: dict[int, Subscription]
        token_hash: str | None
        token_session: str
        presence: ConnPresence

        def _queue(self, frame: bytes, droppable: bool = False) -> None: ...
        def _close(self, code: int, reason: str) -> None: ...
        async def _authorize(self, instance: ReactChannel, params: BaseModel) -> None: ...
        async def _drop_sub(self, sub_id: int) -> None: ...
        def on_event(self, stream: str, epoch: str, seq: int, event: Event) -> None: ...
        def on_resync(self, stream: str, epoch: str, seq: int) -> None: ...
        def on_control(self, stream: str, event: Event) -> None: ...

    def _audience_streams(self) -> dict[str, str]:
        """aud -> stream for the socket's current identity. A socket with a session also
        hears its session's stream, where sign-in and sign-out are announced."""
        out: dict[str, str] = {}
        user = self.request.user
        if user is not None and getattr(user, "is_authenticated", False):
            out[invalidation.AUD_USER] = identity.user_stream(user.pk)
        key = getattr(self.request.session, "session_key", None)
        if key:
            out[invalidation.AUD_SESSION] = identity.session_stream(key)
        elif self.token_session:  # authenticated by a token: follow the session it came from
            out[invalidation.AUD_SESSION] = self.token_session
        out[invalidation.AUD_ALL] = invalidation.ALL_STREAM
        return out

    async def _move_audiences(self, announce: bool = True) -> None:
        """Leave the audience streams the identity no longer has, join the new ones; with
        `announce`, and if anything moved, tell the client to resync every audience it now
        has: a new identity may see different data anywhere (after a sign-out nothing new
        is joined, yet the page must still refetch who it is)."""
        wanted = self._audience_streams()
        current = {aud: stream for stream, aud in self.audiences.items()}
        moved = False
        for aud, stream in current.items():
            if wanted.get(aud) != stream:
                moved = True
                del self.audiences[stream]
                self.session.cursors.pop(stream, None)
                await self.hub.leave(stream, self)
        for aud, stream in wanted.items():
            if current.get(aud) != stream:
                moved = True
                epoch, seq = await self.hub.join(stream, self)
                self.session.cursor(stream, epoch, seq)
                self.audiences[stream] = aud
        if announce and moved:
            for stream, aud in self.audiences.items():
                self._queue(protocol.resync_aud(aud, self.session.cursors[stream].epoch))

    async def _auth(self, frame: protocol.Auth) -> None:
        user, self.token_hash, self.token_session = await mwt.averify(frame.token)
        await self.switch_user(user)

    async def switch_user(self, user: Any) -> None:
        """Give the socket a new identity: move its audiences, re-check every subscription
        (ending with `end` the ones no longer allowed) and tell the client to resync."""
        self.request.user = user
        self.scope["user"] = user
        await self._move_audiences()
        for sub in list(self.subs.values()):
            sub.instance.user = user
            try:
                await self._authorize(sub.instance, sub.params)
            except MizanError as exc:
                await self._drop_sub(sub.id)
                self._queue(protocol.end(sub.id, exc.code.value))
        await self.presence.identity_changed()

    async def _control(self, body: bytes) -> None:
        """A control event from `identity`: the session changed, or credentials must be
        verified again."""
        payload = protocol.loads(body)
        op = payload.get("op")
        if op == "session":
            session, user = await identity.load_session(str(payload.get("key") or ""))
            self.request.session = session
            self.scope["session"] = session
            self.token_hash = None
            self.token_session = ""
            await self.switch_user(user)
        elif op == "recheck":
            await self._recheck()

    async def _recheck(self) -> None:
        current = self.request.user
        if not auth_rules.is_authenticated(current):
            return
        if self.token_hash is not None:
            user = await identity.reload_user(current.pk)
            valid = user is not None and mwt.still_valid(user, self.token_hash)
        else:
            key = getattr(self.request.session, "session_key", None) or ""
            _, user = await identity.load_session(key)
            valid = auth_rules.is_authenticated(user) and user.pk == current.pk
        if not valid:
            self._close(identity.CLOSE_CREDENTIALS, "credentials no longer valid")
        else:
            await self.switch_user(user)
