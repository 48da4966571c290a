"""The browser runtime (mizan_channels/static/mizan_channels/mizan.js) in real Chromium against
the example chat on real daphne: error classes, HTTP calls with CSRF, MWT socket auth,
request timeouts, and heartbeats that notice a dead route and reconnect through it.

Scripts run in the chat page (`chat.mizan` is the page's client) or import the module into a
page of their own, as any user page would.
"""

from __future__ import annotations

import socket

import pytest

from tests.servers import Daphne

from .helpers import Browsers, Tab
from .netfault import Relay

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

MODULE = "/static/mizan_channels/mizan.js"


def test_every_error_code_is_its_own_class(chat_server: Daphne, people: Browsers) -> None:
    ann = people.login(chat_server, "ann")
    out = ann.eval(
        """async (module) => {
            const M = await import(module);
            const m = chat.mizan, out = {};
            const grab = async (name, promise) => {
                try { await promise; out[name] = "resolved"; }
                catch (e) {
                    out[name] = [e.code, e.constructor.name, e instanceof M.MizanError, e.status];
                    if (name === "invalid_params") out.details = e.details;
                }
            };
            await grab("unknown_function", m.call("no_such_function"));
            await grab("not_exposed", m.call("room_list"));  // a context, not websocket=True
            await grab("invalid_params", m.call("post_message", { room: "lobby", text: "  " }));
            await grab("unknown_channel", m.subscribe("no_such_channel").ready);
            await grab("bad_params", m.subscribe("chat", { room: "Not a slug!" }).ready);
            await grab("not_subscribed", m._request({ t: "send", sub: 987654, data: {} }));
            const huge = "x".repeat(1 << 20);
            await grab("too_large", m.call("post_message", { room: "lobby", text: huge }));
            // Every code maps to its class, from any payload the server may send.
            out.mapped = Object.entries(M.ERROR_CLASSES).every(([code, Cls]) => {
                const e = M.MizanError.fromPayload({ code, message: "m" });
                return e instanceof Cls && e instanceof M.MizanError && e.code === code;
            });
            // None of it disturbed the socket.
            out.after = Array.isArray(await m.call("room_messages", { room: "lobby" }));
            out.ping = typeof (await m.ping());
            out.connections = m.connections;
            return out;
        }""",
        MODULE,
    )
    assert out["unknown_function"] == ["unknown_function", "UnknownFunctionError", True, 404]
    assert out["not_exposed"] == ["not_exposed", "NotExposedError", True, 404]
    assert out["invalid_params"] == ["invalid_params", "InvalidParamsError", True, 400]
    assert [d["loc"] for d in out["details"]] == [["text"]]
    assert out["unknown_channel"] == ["unknown_channel", "UnknownChannelError", True, 404]
    assert out["bad_params"] == ["invalid_params", "InvalidParamsError", True, 400]
    assert out["not_subscribed"] == ["not_subscribed", "NotSubscribedError", True, 400]
    assert out["too_large"] == ["too_large", "TooLargeError", True, 413]
    assert out["mapped"] is True
    assert out["after"] is True and out["ping"] == "number" and out["connections"] == 1


def test_http_calls_send_the_csrf_token_and_apply_invalidations(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.login(chat_server, "ann", room="random")
    bob = people.login(chat_server, "bob", room="random")
    sent = ann.eval("chat.mizan.http('post_message', { room: 'random', text: 'over http' })")
    assert sent["user"] == "ann" and sent["text"] == "over http"
    bob.page.locator("#messages li .text", has_text="over http").wait_for()
    # Its `inv` reached the other person's page: their room list refetched the counts.
    bob.page.locator("#rooms a[data-slug=random] .count", has_text="1").wait_for()

    refused = ann.eval(
        """async (module) => {
            const M = await import(module);
            document.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach((e) => e.remove());
            const m = new M.Mizan({ connect: false, csrfCookieName: "not-the-csrf-cookie" });
            try { await m.http("post_message", { room: "random", text: "forged" }); return "sent"; }
            catch (e) { return [e.code, e.status, e instanceof M.ForbiddenError]; }
        }""",
        MODULE,
    )
    assert refused == ["forbidden", 403, True]


def test_an_mwt_authenticates_a_socket_that_has_no_session(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.login(chat_server, "ann")
    token = ann.eval("fetch('/api/mizan/mwt').then((r) => r.json())")["token"]
    stranger = people.tab(people.person(), f"{chat_server.url}/login/")
    out = stranger.eval(
        """async ([module, token]) => {
            const M = await import(module);
            const who = async (options) => {
                const m = new M.Mizan(options), errors = [];
                m.onError((e) => errors.push(e.code));
                const user = await m.call("current_user");
                const history = await m.call("room_messages", { room: "lobby" }).then(
                    () => "allowed", (e) => e.code);
                m.close();
                return [user && user.username, history, errors];
            };
            return {
                anonymous: await who({}),
                token: await who({ token: () => token }),
                forged: await who({ token: token.slice(0, -4) + "AAAA" }),
                mwtWithoutSession: await who({ auth: "mwt" }),
            };
        }""",
        [MODULE, token],
    )
    assert out["anonymous"] == [None, "unauthorized", []]
    assert out["token"] == ["ann", "allowed", []]
    assert out["forged"] == [None, "unauthorized", ["unauthorized"]]
    assert out["mwtWithoutSession"] == [None, "unauthorized", ["unauthorized"]]
    # The logged-in page can use MWT too (what a cross-origin page would do).
    assert (
        ann.eval(
            """async (module) => {
            const M = await import(module);
            const m = new M.Mizan({ auth: "mwt" });
            const user = await m.call("current_user");
            m.close();
            return user.username;
        }""",
            MODULE,
        )
        == "ann"
    )


def test_a_request_without_a_reply_times_out_and_a_closed_client_refuses_at_once(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.login(chat_server, "ann")
    # A peer that accepts TCP and never answers the WebSocket handshake.
    with socket.create_server(("127.0.0.1", 0)) as dead:
        port = dead.getsockname()[1]
        out = ann.eval(
            """async ([module, port]) => {
                const M = await import(module);
                const url = `ws://127.0.0.1:${port}/ws/mizan/`;
                const m = new M.Mizan({ url, requestTimeout: 300 });
                const started = performance.now();
                const first = await m.call("current_user").catch(
                    (e) => [e.code, e.constructor.name]);
                const waited = performance.now() - started;
                m.close();
                const closed = await m.call("current_user").catch((e) => e.code);
                return { first, waited, closed, state: m.state };
            }""",
            [MODULE, port],
        )
    assert out["first"] == ["timeout", "RequestTimeoutError"]
    assert 250 <= out["waited"] < 3000
    assert out["closed"] == "closed" and out["state"] == "closed"


def test_a_context_is_fetched_once_however_many_wait_for_it(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.login(chat_server, "ann")
    out = ann.eval(
        """async (module) => {
            const M = await import(module);
            let gets = 0;
            const m = new M.Mizan({ connect: false, hydrate: false,
                fetch: (...a) => { gets++; return fetch(...a); } });
            const store = m.context("global");  // starts the first fetch
            const [a, b] = await Promise.all([store.ready(), store.ready()]);
            const first = gets;
            await store.ready();  // loaded: answered from memory
            const loaded = gets;
            await store.refresh();  // an explicit refetch still fetches
            return { first, loaded, refreshed: gets, same: a === b };
        }""",
        MODULE,
    )
    assert out == {"first": 1, "loaded": 1, "refreshed": 2, "same": True}


def test_a_dead_route_is_noticed_by_heartbeat_and_the_client_reconnects(
    chat_server: Daphne, people: Browsers
) -> None:
    ann = people.login(chat_server, "ann")
    bob = people.login(chat_server, "bob")
    relay = Relay(chat_server.port)
    try:
        ann.eval(
            """async ([module, port]) => {
                const M = await import(module);
                const m = new M.Mizan({
                    url: `ws://127.0.0.1:${port}/ws/mizan/`,
                    heartbeatMs: 1000, heartbeatTimeoutMs: 1000, reconnectBaseMs: 100,
                });
                window.relayed = { m, got: [], resyncs: 0 };
                // Joined, not just connected: a message posted before the server has joined
                // the group would not reach this subscription, and nothing would replay it.
                await m.subscribe("chat", { room: "relay" }, {
                    onMessage: (msg) => relayed.got.push(msg.text),
                    onResync: () => relayed.resyncs++,
                }).ready;
            }""",
            [MODULE, relay.port],
        )
        post_via(bob, "through the relay")
        ann.page.wait_for_function("relayed.got.includes('through the relay')")

        relay.cut()
        # Issued at once; the heartbeat can't call the route dead for another second or more,
        # so this call is in flight when it does.
        lost = ann.eval(
            """() => relayed.m.call("room_messages", { room: "relay" }, { timeout: 30000 })
                .then(() => "answered", (e) => [e.code, e.constructor.name])"""
        )
        assert lost == ["connection_lost", "ConnectionLostError"]
        assert ann.eval("relayed.m.state") in {"reconnecting", "connecting"}

        post_via(bob, "while the route was dead")

        relay.heal()
        ann.page.wait_for_function("relayed.m.state === 'open' && relayed.m.connections === 2")
        post_via(bob, "after the route came back")
        ann.page.wait_for_function("relayed.got.includes('after the route came back')")
        # Resubscribed with `since`: ChatChannel keeps history, so the server replayed what the
        # dead route swallowed, in order and once each, and nothing needed a refetch.
        got, resyncs = ann.eval("[relayed.got, relayed.resyncs]")
        assert got == ["through the relay", "while the route was dead", "after the route came back"]
        assert resyncs == 0
    finally:
        ann.eval("relayed.m.close()")
        relay.close()


def post_via(tab: Tab, text: str) -> None:
    tab.eval("(text) => chat.mizan.call('post_message', { room: 'relay', text })", text)
