/**
 * mizan.js: the browser runtime of mizan-channels (an ES module; no build step).
 *
 * One `Mizan` object per page holds one WebSocket (protocol v1, docs/protocol.md) and
 * carries calls, channel subscriptions and invalidations over it. It outlives the socket:
 * when the connection drops it reconnects with exponential backoff and jitter, subscribes
 * every channel again (resuming with `since` where the server keeps history, otherwise
 * telling the subscriber to refetch), and refetches its contexts, because invalidations
 * sent while it was away are lost. Nothing is silently missed: every gap the runtime can
 * see (a `resync` frame, a jump in `seq`, a reconnect) reaches the page as a refetch.
 * On channels with presence, each subscription also keeps the roster of who is subscribed
 * (`sub.roster`, `onPresence`), from the `ok` and the `presence` frames that follow it.
 *
 *   import { Mizan } from "/static/mizan_channels/mizan.js";
 *   const mizan = new Mizan();                       // same origin, session cookie
 *   const user = mizan.context("global");            // SSR-hydrated, refetched on `inv`
 *   const sub = mizan.subscribe("chat", { room: "lobby" }, { onMessage, onResync });
 *   await mizan.call("post_message", { room: "lobby", text: "hi" });
 *
 * Failures are `MizanError`s (a subclass per protocol error code, with `.code`,
 * `.details` and `.status`), plus three the client itself raises: `timeout`,
 * `connection_lost` (the socket dropped with the request in flight; it may or may not
 * have run) and `closed` (the client was closed).
 */

export const PROTOCOL_VERSION = 1;

const STATUS = {
  bad_frame: 400,
  too_large: 413,
  unknown_function: 404,
  unknown_channel: 404,
  not_exposed: 404,
  invalid_params: 400,
  unauthorized: 401,
  forbidden: 403,
  not_subscribed: 400,
  rate_limited: 429,
  server_error: 500,
};

/** Every failure the runtime reports. `code` is the protocol's string. */
export class MizanError extends Error {
  constructor(code, message, details, status) {
    super(message || code);
    this.name = "MizanError";
    this.code = code;
    this.details = details;
    this.status = status ?? STATUS[code];
  }

  /** The error object of an `err` frame or an HTTP error body, as its class. */
  static fromPayload(error, status) {
    const code = error && typeof error.code === "string" ? error.code : "server_error";
    const message = error && typeof error.message === "string" ? error.message : "";
    const Cls = ERROR_CLASSES[code];
    const out = Cls ? new Cls(message, error?.details) : new MizanError(code, message, error?.details);
    if (status !== undefined) out.status = status;
    return out;
  }
}

function errorClass(name, code) {
  // A named class per code so `instanceof ForbiddenError` and stack traces read well.
  const cls = {
    [name]: class extends MizanError {
      constructor(message, details) {
        super(code, message, details);
        this.name = name;
      }
    },
  }[name];
  cls.code = code;
  return cls;
}

export const BadFrameError = errorClass("BadFrameError", "bad_frame");
export const TooLargeError = errorClass("TooLargeError", "too_large");
export const UnknownFunctionError = errorClass("UnknownFunctionError", "unknown_function");
export const UnknownChannelError = errorClass("UnknownChannelError", "unknown_channel");
export const NotExposedError = errorClass("NotExposedError", "not_exposed");
export const InvalidParamsError = errorClass("InvalidParamsError", "invalid_params");
export const UnauthorizedError = errorClass("UnauthorizedError", "unauthorized");
export const ForbiddenError = errorClass("ForbiddenError", "forbidden");
export const NotSubscribedError = errorClass("NotSubscribedError", "not_subscribed");
export const RateLimitedError = errorClass("RateLimitedError", "rate_limited");
export const ServerError = errorClass("ServerError", "server_error");
export const RequestTimeoutError = errorClass("RequestTimeoutError", "timeout");
export const ConnectionLostError = errorClass("ConnectionLostError", "connection_lost");
export const ClientClosedError = errorClass("ClientClosedError", "closed");
export const NetworkError = errorClass("NetworkError", "network");

export const ERROR_CLASSES = Object.freeze({
  bad_frame: BadFrameError,
  too_large: TooLargeError,
  unknown_function: UnknownFunctionError,
  unknown_channel: UnknownChannelError,
  not_exposed: NotExposedError,
  invalid_params: InvalidParamsError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_subscribed: NotSubscribedError,
  rate_limited: RateLimitedError,
  server_error: ServerError,
  timeout: RequestTimeoutError,
  connection_lost: ConnectionLostError,
  closed: ClientClosedError,
  network: NetworkError,
});

const HTTP_CODES = { 400: "bad_frame", 401: "unauthorized", 403: "forbidden", 404: "unknown_function", 413: "too_large", 429: "rate_limited" };

/** The `{fn: value}` object the `{% mizan_context %}` tag embedded for `name`, or null. */
export function readHydrated(name, doc = globalThis.document) {
  const el = doc?.getElementById?.(`mizan-ctx-${name}`);
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch {
    return null;
  }
}

/** Django's CSRF token: the cookie, else a rendered `{% csrf_token %}` input. */
export function csrfToken(cookieName = "csrftoken", doc = globalThis.document) {
  const cookies = doc?.cookie ? doc.cookie.split(";") : [];
  for (const part of cookies) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  const input = doc?.querySelector?.("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

/** A presence roster with a `presence` frame applied (docs/protocol.md, "Presence"), as a
 *  new object: `state` replaces it; otherwise `leaves`, then `joins`. A user whose last
 *  connection left is removed. Entries that didn't change are shared, so UI code can
 *  compare by identity. */
export function applyPresence(roster, frame) {
  if (frame.state && typeof frame.state === "object") {
    const next = {};
    for (const [key, refs] of Object.entries(frame.state)) next[key] = { ...refs };
    return next;
  }
  const next = { ...(roster ?? {}) };
  for (const [key, refs] of Object.entries(frame.leaves ?? {})) {
    if (!next[key]) continue;
    const entry = { ...next[key] };
    for (const ref of refs) delete entry[ref];
    if (Object.keys(entry).length) next[key] = entry;
    else delete next[key];
  }
  for (const [key, refs] of Object.entries(frame.joins ?? {})) next[key] = { ...next[key], ...refs };
  return next;
}

function keyId(key) {
  if (key && typeof key.ctx === "string") return `ctx:${key.ctx}`;
  if (key && typeof key.fn === "string") return `fn:${key.fn}`;
  throw new TypeError(`an invalidation key is {ctx: NAME} or {fn: NAME}, got ${JSON.stringify(key)}`);
}

function defaultUrl(path) {
  const loc = globalThis.location;
  if (!loc) throw new TypeError("new Mizan({url}) needs a url outside a browser page");
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}${path}`;
}

const DEFAULTS = {
  url: null,
  path: "/ws/mizan/",
  prefix: "/api/mizan/",
  auth: "session",
  token: null,
  credentials: "same-origin",
  csrfCookieName: "csrftoken",
  requestTimeout: 15000,
  maxFrameBytes: 1024 * 1024,
  reconnectBaseMs: 250,
  reconnectMaxMs: 5000,
  heartbeatMs: 20000,
  heartbeatTimeoutMs: 10000,
  refetchJitterMs: 250,
  hydrate: true,
  connect: true,
  WebSocket: null,
  fetch: null,
  logger: globalThis.console,
};

/** A context: every function of one `@client(context=NAME)` group, kept fresh. */
export class ContextStore {
  constructor(client, name, initial) {
    this.client = client;
    this.name = name;
    this.data = initial ?? null;
    this.error = null;
    this.stale = initial == null;
    this._listeners = new Set();
    this._inflight = null;
    this._again = null;
    this._timer = null;
  }

  /** One function's value, or undefined until loaded. */
  get(fn) {
    return this.data ? this.data[fn] : undefined;
  }

  /** Call `listener(data, store)` now (if loaded) and after every refetch; returns an unsubscribe. */
  subscribe(listener) {
    this._listeners.add(listener);
    if (this.data) listener(this.data, this);
    return () => this._listeners.delete(listener);
  }

  /** Fetch now. Concurrent calls share a fetch, and a call made during one gets a fresh one. */
  refresh() {
    if (this._inflight) {
      this._again ??= this._inflight
        .catch(() => {})
        .then(() => {
          this._again = null;
          return this.refresh();
        });
      return this._again;
    }
    this._inflight = this._load().finally(() => {
      this._inflight = null;
    });
    return this._inflight;
  }

  /** Data once loaded (immediately when hydrated). Joins a fetch already on its way (the
   *  newest one, when a refetch is queued behind it) instead of queueing another. */
  ready() {
    if (this._inflight) return this._again ?? this._inflight;
    return this.data ? Promise.resolve(this.data) : this.refresh();
  }

  _invalidate(delayMs) {
    this.stale = true;
    if (delayMs > 0) {
      if (this._timer) return;
      this._timer = setTimeout(() => {
        this._timer = null;
        this.refresh().catch(() => {});
      }, delayMs);
    } else {
      this.refresh().catch(() => {});
    }
  }

  async _load() {
    const url = `${this.client.options.prefix}ctx/${encodeURIComponent(this.name)}`;
    try {
      const body = await this.client._http("GET", url);
      this.data = body.data;
      this.stale = false;
      this.error = null;
    } catch (err) {
      this.error = err;
      this.client._report(err, `context ${this.name}`);
      throw err;
    }
    for (const listener of [...this._listeners]) {
      try {
        listener(this.data, this);
      } catch (err) {
        this.client._report(err, `listener of context ${this.name}`);
      }
    }
    return this.data;
  }
}

/** A channel subscription that survives reconnects. */
export class Subscription {
  constructor(client, channel, params, handlers) {
    this.client = client;
    this.channel = channel;
    this.params = params ?? {};
    this.handlers = handlers ?? {};
    this.id = null; // the `sub` frame's id on the current socket
    this.epoch = null;
    this.seq = null;
    this.active = true;
    this.acked = false;
    /** Who is subscribed ({user key: {connection ref: metadata}}), on channels with presence;
     *  null until the first `ok`, and on channels without presence. */
    this.roster = null;
    this._floor = null; // the roster is exact up to this stream position
    this._early = null; // positions and presence frames that came before this socket's `ok`
    this._replacing = false;
    this._everAcked = false;
    this._ackWaiters = [];
    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this.ready.catch(() => {}); // an unawaited failure is reported through onError
  }

  /** Send a client message (channels with a ReactMessage); resolves with `receive()`'s reply. */
  async send(data, { timeout } = {}) {
    if (!this.active) throw new NotSubscribedError("This subscription has ended.");
    await this._acked();
    return this.client._request({ t: "send", sub: this.id, data }, timeout);
  }

  /** Stop receiving; the server is told when connected. */
  unsubscribe() {
    if (!this.active) return;
    const id = this.acked ? this.id : null;
    this._finish();
    if (id !== null && this.client.state === "open") {
      this.client._request({ t: "unsub", sub: id }).catch(() => {});
    }
  }

  _finish() {
    this.active = false;
    this.acked = false;
    this.client._subs.delete(this);
    if (this.id !== null) this.client._subById.delete(this.id);
    for (const waiter of this._ackWaiters.splice(0)) waiter.reject(new NotSubscribedError("This subscription has ended."));
  }

  _acked() {
    if (this.acked) return Promise.resolve();
    return new Promise((resolve, reject) => this._ackWaiters.push({ resolve, reject }));
  }

  /** Send `sub` on `ws`. `replaces`: the id of this subscription's current server-side
   *  subscription, kept until the new one is acknowledged (one connection of the same group,
   *  so the roster doesn't flicker), then unsubscribed. */
  _subscribe(ws, replaces = null) {
    if (this.id !== null) this.client._subById.delete(this.id);
    this.acked = false;
    this._replacing = replaces !== null;
    this._early = { seq: null, presence: [] };
    const frame = { t: "sub", ch: this.channel, params: this.params };
    const resuming = replaces === null && this._everAcked && this.epoch !== null && this.seq !== null;
    if (resuming) frame.since = { epoch: this.epoch, seq: this.seq };
    const { id, promise } = this.client._requestOn(ws, frame);
    this.id = id;
    this.client._subById.set(id, this);
    const release = () => {
      if (replaces !== null && this.client._ws === ws) this.client._requestOn(ws, { t: "unsub", sub: replaces }).promise.catch(() => {});
    };
    promise.then(
      (data) => {
        release();
        if (this.id !== id) return;
        if (!this.active) {
          // Unsubscribed before the server answered: end it there too (or its connection
          // would stay in the roster until the socket closes).
          if (this.client._ws === ws) this.client._requestOn(ws, { t: "unsub", sub: id }).promise.catch(() => {});
          return;
        }
        this.acked = true;
        this._replacing = false;
        const recovered = resuming && data?.recovered;
        const early = this._early;
        this._early = null;
        if (!recovered) {
          // Messages may precede the `ok` of a channel with presence (its roster is read
          // after joining the stream): positions continue from the last of them.
          this.epoch = data?.epoch ?? null;
          this.seq = Math.max(data?.seq ?? -1, early.seq ?? -1);
          if (this.seq < 0) this.seq = null;
        } // else: the missed messages follow, numbered from our old position on
        const presence = data?.presence;
        if (presence && typeof presence === "object") {
          this._floor = typeof presence.seq === "number" ? presence.seq : null;
          this._setRoster(applyPresence(null, { state: presence.state ?? {} }), true);
          for (const f of early.presence) this._presence(f);
        }
        const first = !this._everAcked;
        this._everAcked = true;
        for (const waiter of this._ackWaiters.splice(0)) waiter.resolve();
        if (first) this._resolveReady(data);
        else if (replaces !== null) this._resync("gap");
        else if (!data?.recovered) this._resync("reconnect");
      },
      (err) => {
        if (!(err instanceof ConnectionLostError)) release();
        if (!this.active || this.id !== id) return;
        if (err instanceof ConnectionLostError) return; // subscribed again after reconnecting
        this._finish();
        this._rejectReady(err);
        if (!(err instanceof ClientClosedError)) this._call("onError", err); // closing isn't news
      },
    );
  }

  /** Where `seq` stands against the positions seen: "old" (delivered already), "gap"
   *  (something was skipped), "next", or "early" (before the `ok`, which says where
   *  positions continue). Positions up to the roster's floor may have been presence changes
   *  folded into the roster, so skipping them is no gap. */
  _position(seq) {
    if (typeof seq !== "number") return "next";
    if (!this.acked) {
      // Before the `ok`: the position to continue from isn't known yet.
      this._early.seq = Math.max(this._early.seq ?? -1, seq);
      return "early";
    }
    if (this.seq === null) {
      this.seq = seq;
      return "next";
    }
    if (seq <= this.seq) return "old";
    const skipped = seq !== this.seq + 1 && !(this._floor !== null && seq - 1 <= this._floor);
    this.seq = seq;
    return skipped ? "gap" : "next";
  }

  _deliver(frame) {
    const at = this._position(frame.seq);
    if (at === "old") return; // already delivered (replayed)
    if (at === "gap") this._lostTrack();
    this._call("onMessage", frame.data, { seq: frame.seq, sub: this });
  }

  /** A `presence` frame: a diff, or the whole roster after a resync. */
  _presence(frame) {
    if (!this.acked) {
      this._early?.presence.push(frame);
      return;
    }
    if (frame.state) {
      // Exact at its position; messages numbered below it may still follow.
      if (typeof frame.seq === "number") this._floor = Math.max(this._floor ?? -1, frame.seq);
      this._setRoster(applyPresence(this.roster, frame), true);
      return;
    }
    if (this._floor !== null && typeof frame.seq === "number" && frame.seq <= this._floor) return;
    const at = this._position(frame.seq);
    if (at === "old") return;
    this._setRoster(applyPresence(this.roster, frame), false);
    if (at === "gap") this._lostTrack();
  }

  /** A skipped position: a message, or a presence change, may be lost. Messages are
   *  refetched (onResync); a roster can only be read again by subscribing again. */
  _lostTrack() {
    const ws = this.client._ws;
    if (this.roster !== null && this.client.state === "open" && ws && !this._replacing) this._subscribe(ws, this.id);
    else this._resync("gap");
  }

  _setRoster(roster, reset) {
    const before = this.roster ?? {};
    this.roster = roster;
    const joined = Object.keys(roster).filter((key) => !(key in before));
    const left = Object.keys(before).filter((key) => !(key in roster));
    this._call("onPresence", roster, { joined, left, reset, sub: this });
  }

  _resync(reason, epoch) {
    if (epoch !== undefined) {
      this.epoch = epoch;
      this.seq = null; // positions continue in the new epoch; the next msg sets them
      this._floor = null; // a `state` frame follows on channels with presence
    }
    this._call("onResync", { reason, sub: this });
  }

  _ended(reason) {
    this._finish();
    this._call("onEnd", reason);
  }

  _call(name, ...args) {
    const fn = this.handlers[name];
    if (!fn) {
      if (name === "onError") this.client._report(args[0], `subscription ${this.channel}`);
      return;
    }
    try {
      fn(...args);
    } catch (err) {
      this.client._report(err, `${name} of ${this.channel}`);
    }
  }
}

/** The connection to a mizan-channels server. See the module comment. */
export class Mizan {
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    if (!o.prefix.endsWith("/")) o.prefix += "/";
    this.url = o.url || defaultUrl(o.path);
    this.state = "idle"; // idle | connecting | open | reconnecting | closed
    this.conn = null;
    this.hello = null;
    this.epochs = {};
    this.connections = 0; // sockets that reached "open"; > 1 means it has reconnected
    this._ws = null;
    this._nextId = 1;
    this._pending = new Map();
    this._outbox = [];
    this._subs = new Set();
    this._subById = new Map();
    this._contexts = new Map();
    this._invListeners = new Map();
    this._stateListeners = new Set();
    this._errorListeners = new Set();
    this._attempt = 0;
    this._retryTimer = null;
    this._heartbeat = null;
    this._onOnline = () => {
      if (this.state === "reconnecting" && this._retryTimer) this._retryNow();
    };
    globalThis.addEventListener?.("online", this._onOnline);
    if (o.connect) this.connect();
  }

  // Public API -------------------------------------------------------------------------

  /** Open the socket (done by the constructor unless `connect: false`). */
  connect() {
    if (this.state === "closed") throw new ClientClosedError("This client was closed; create a new one.");
    if (this._ws || this._retryTimer) return;
    this._open();
  }

  /** Close for good: pending requests fail with ClientClosedError and nothing reconnects. */
  close() {
    if (this.state === "closed") return;
    this._setState("closed");
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._stopHeartbeat();
    globalThis.removeEventListener?.("online", this._onOnline);
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(1000, "client closed");
    this._failPending(() => new ClientClosedError("The client was closed."), true);
    for (const sub of [...this._subs]) sub._finish();
  }

  /** Call a `websocket=True` server function. Rejects with a MizanError. */
  call(fn, args = {}, { timeout } = {}) {
    return this._request({ t: "call", fn, args }, timeout);
  }

  /** Call any server function over HTTP (`POST {prefix}call/{fn}`, with Django's CSRF token). */
  async http(fn, args = {}) {
    const url = `${this.options.prefix}call/${encodeURIComponent(fn)}`;
    const body = await this._http("POST", url, args);
    if (Array.isArray(body.inv) && body.inv.length) this._invalidate(body.inv, "http");
    return body.data;
  }

  /** Subscribe to channel `channel` with `params`. Handlers: onMessage(data, info),
   *  onResync({reason}), onEnd(reason), onError(err), and on channels with presence
   *  onPresence(roster, {joined, left, reset}). `sub.ready` resolves with the first `ok`
   *  data ({sub, epoch, seq, presence?}) or rejects (e.g. ForbiddenError). */
  subscribe(channel, params = {}, handlers = {}) {
    if (this.state === "closed") throw new ClientClosedError("This client was closed.");
    const sub = new Subscription(this, channel, params, handlers);
    this._subs.add(sub);
    if (this.state === "open") sub._subscribe(this._ws);
    return sub;
  }

  /** The store of context `name`: hydrated from the page when the tag rendered it, else fetched. */
  context(name) {
    let store = this._contexts.get(name);
    if (!store) {
      const initial = this.options.hydrate ? readHydrated(name) : null;
      store = new ContextStore(this, name, initial);
      this._contexts.set(name, store);
      if (!initial) store.refresh().catch(() => {});
    }
    return store;
  }

  /** Run `listener(key, info)` when `key` ({ctx: NAME} or {fn: NAME}) is invalidated, and on
   *  every resync (info.resync is true then). Returns an unsubscribe function. */
  onInvalidate(key, listener) {
    const id = keyId(key);
    let set = this._invListeners.get(id);
    if (!set) this._invListeners.set(id, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** `listener(state)` on every state change; returns an unsubscribe function. */
  onState(listener) {
    this._stateListeners.add(listener);
    return () => this._stateListeners.delete(listener);
  }

  /** `listener(error, where)` for failures nobody awaited (a context refetch, an err frame without id). */
  onError(listener) {
    this._errorListeners.add(listener);
    return () => this._errorListeners.delete(listener);
  }

  /** Round trip to the server; resolves with the latency in milliseconds. */
  async ping({ timeout } = {}) {
    const start = performance.now();
    await this._request({ t: "ping" }, timeout);
    return performance.now() - start;
  }

  // Requests ----------------------------------------------------------------------------

  _request(frame, timeout) {
    if (this.state === "closed") return Promise.reject(new ClientClosedError("The client was closed."));
    const id = this._nextId++;
    return this._track(id, { ...frame, id }, timeout, this.state === "open" ? this._ws : null);
  }

  /** Send on a socket before it is "open" (the handshake's `auth`, resubscriptions). */
  _requestOn(ws, frame, timeout) {
    const id = this._nextId++;
    return { id, promise: this._track(id, { ...frame, id }, timeout, ws) };
  }

  _track(id, frame, timeout, ws) {
    const ms = timeout ?? this.options.requestTimeout;
    return new Promise((resolve, reject) => {
      const entry = { frame, resolve, reject, timer: null, sent: false };
      entry.timer = setTimeout(() => {
        this._pending.delete(id);
        const at = this._outbox.indexOf(entry);
        if (at >= 0) this._outbox.splice(at, 1);
        const what = [frame.t, frame.fn ?? frame.ch].filter(Boolean).join(" ");
        reject(new RequestTimeoutError(`No reply to ${what} within ${ms} ms.`));
      }, ms);
      this._pending.set(id, entry);
      if (ws) this._send(ws, entry);
      else this._outbox.push(entry);
    });
  }

  _send(ws, entry) {
    let text;
    try {
      text = JSON.stringify(entry.frame);
    } catch (err) {
      this._settle(entry.frame.id, null, new InvalidParamsError(`Arguments can't be sent as JSON: ${err}`));
      return;
    }
    // The server would answer an oversize frame with an `err` that has no id (it can't read
    // one), leaving the request to time out: refuse it here instead, with the same code.
    const max = this.options.maxFrameBytes;
    if (max && text.length * 3 > max && new TextEncoder().encode(text).length > max) {
      this._settle(entry.frame.id, null, new TooLargeError(`The frame is larger than ${max} bytes.`));
      return;
    }
    entry.sent = true;
    try {
      ws.send(text);
    } catch (err) {
      this._settle(entry.frame.id, null, new ConnectionLostError(`Could not send: ${err}`));
    }
  }

  _settle(id, data, error) {
    const entry = this._pending.get(id);
    if (!entry) return false;
    this._pending.delete(id);
    clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(data);
    return true;
  }

  _failPending(makeError, all) {
    for (const [id, entry] of [...this._pending]) {
      if (all || entry.sent) this._settle(id, null, makeError(entry));
    }
    if (all) this._outbox.length = 0;
  }

  // HTTP --------------------------------------------------------------------------------

  async _http(method, url, json) {
    const fetchFn = this.options.fetch || globalThis.fetch.bind(globalThis);
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: this.options.credentials };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      const token = csrfToken(this.options.csrfCookieName);
      if (token) headers["X-CSRFToken"] = token;
      init.body = JSON.stringify(json ?? {});
    }
    let res;
    try {
      res = await fetchFn(url, init);
    } catch (err) {
      throw new NetworkError(`${method} ${url} failed: ${err?.message ?? err}`);
    }
    let body = null;
    try {
      body = await res.json();
    } catch {
      body = null;
    }
    if (!res.ok) {
      if (body && body.error) throw MizanError.fromPayload(body.error, res.status);
      const code = HTTP_CODES[res.status] ?? "server_error";
      throw MizanError.fromPayload({ code, message: `${method} ${url} answered HTTP ${res.status}.` }, res.status);
    }
    if (body === null || typeof body !== "object") {
      throw new ServerError(`${method} ${url} did not answer JSON.`);
    }
    return body;
  }

  async _fetchToken() {
    if (typeof this.options.token === "function") return await this.options.token();
    if (typeof this.options.token === "string") return this.options.token;
    const body = await this._http("GET", `${this.options.prefix}mwt`);
    return body.token;
  }

  // Socket ------------------------------------------------------------------------------

  _open() {
    this._setState(this.connections ? "reconnecting" : "connecting");
    const WS = this.options.WebSocket || globalThis.WebSocket;
    let ws;
    try {
      ws = new WS(this.url);
    } catch (err) {
      this._report(err, "opening the socket");
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    ws.onmessage = (event) => this._onMessage(ws, event.data);
    ws.onclose = (event) => this._onClose(ws, event);
    ws.onerror = () => {}; // a close event always follows, and carries what we know
  }

  _onMessage(ws, raw) {
    if (ws !== this._ws) return;
    let f;
    try {
      f = JSON.parse(raw);
    } catch {
      this._report(new BadFrameError("The server sent a frame that is not JSON."), "socket");
      return;
    }
    switch (f.t) {
      case "hello":
        this.hello = f;
        this.conn = f.conn;
        this.epochs = typeof f.epoch === "object" && f.epoch ? { ...f.epoch } : { "": f.epoch };
        this._handshake(ws).catch((err) => this._report(err, "handshake"));
        break;
      case "ok":
        this._settle(f.id, f.data ?? null, null);
        break;
      case "pong":
        this._settle(f.id, null, null);
        break;
      case "err": {
        const error = MizanError.fromPayload(f.error);
        if (f.id === null || f.id === undefined || !this._settle(f.id, null, error)) this._report(error, "socket");
        break;
      }
      case "msg":
        this._subById.get(f.sub)?._deliver(f);
        break;
      case "presence":
        this._subById.get(f.sub)?._presence(f);
        break;
      case "inv":
        if (Array.isArray(f.keys)) this._invalidate(f.keys, f.aud);
        break;
      case "resync":
        if (f.sub !== undefined && f.sub !== null) {
          this._subById.get(f.sub)?._resync("resync", f.epoch);
        } else {
          if (f.aud !== undefined) this.epochs[f.aud] = f.epoch;
          this._refetchAll("resync");
        }
        break;
      case "end":
        this._subById.get(f.sub)?._ended(f.reason);
        break;
      default:
        break; // unknown frame types are ignored (forward compatibility)
    }
  }

  async _handshake(ws) {
    const o = this.options;
    if (o.auth === "mwt" || o.token) {
      try {
        const token = await this._fetchToken();
        if (ws !== this._ws) return;
        await this._requestOn(ws, { t: "auth", token }).promise;
      } catch (err) {
        // Carry on anonymously: calls needing a user fail with `unauthorized` themselves.
        this._report(err, "socket auth");
      }
    }
    if (ws !== this._ws) return;
    const reconnected = this.connections > 0;
    this.connections += 1;
    this._attempt = 0;
    this._setState("open");
    for (const sub of this._subs) sub._subscribe(ws);
    for (const entry of this._outbox.splice(0)) this._send(ws, entry);
    this._startHeartbeat(ws);
    if (reconnected) this._refetchAll("reconnect");
  }

  _onClose(ws, event) {
    if (ws !== this._ws) return;
    this._lost(`closed (${event?.code ?? "?"}${event?.reason ? ` ${event.reason}` : ""})`);
  }

  /** The current socket is gone: fail what was in flight, then try again later. */
  _lost(why) {
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(4000, "client gave up on this connection");
      } catch {
        /* already closed */
      }
    }
    this._stopHeartbeat();
    this._subById.clear();
    for (const sub of this._subs) sub.acked = false;
    this._failPending((entry) => new ConnectionLostError(`The socket ${why} while ${entry.frame.t} ${entry.frame.id} was in flight.`), false);
    if (this.state === "closed") return;
    this.options.logger?.info?.(`mizan: socket ${why}; reconnecting`);
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._setState(this.connections ? "reconnecting" : "connecting");
    const o = this.options;
    const ceiling = Math.min(o.reconnectMaxMs, o.reconnectBaseMs * 2 ** this._attempt);
    // "Equal jitter": at least half the backoff, so a crowd of clients spreads out without
    // any of them hammering the server right after it comes back.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this._attempt += 1;
    this._retryTimer = setTimeout(() => this._retryNow(), delay);
  }

  _retryNow() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (this.state !== "closed" && !this._ws) this._open();
  }

  _startHeartbeat(ws) {
    this._stopHeartbeat();
    const o = this.options;
    if (!o.heartbeatMs) return;
    this._heartbeat = setInterval(() => {
      if (ws !== this._ws) return;
      this._requestOn(ws, { t: "ping" }, o.heartbeatTimeoutMs).promise.catch((err) => {
        // Browsers can't see a half-open TCP connection; a missing pong is how we learn of it.
        if (err instanceof RequestTimeoutError && ws === this._ws) this._lost("stopped answering pings");
      });
    }, o.heartbeatMs);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeat);
    this._heartbeat = null;
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this._stateListeners]) {
      try {
        listener(state, this);
      } catch (err) {
        this._report(err, "state listener");
      }
    }
  }

  _report(err, where) {
    if (this._errorListeners.size === 0) {
      this.options.logger?.warn?.(`mizan: ${where}:`, err);
      return;
    }
    for (const listener of [...this._errorListeners]) {
      try {
        listener(err, where);
      } catch (inner) {
        this.options.logger?.error?.("mizan: error listener failed", inner);
      }
    }
  }

  // Invalidation ------------------------------------------------------------------------

  _invalidate(keys, aud) {
    // Shared keys reach every socket at once: spread their refetches over a short window.
    const jitter = aud === "all" ? Math.random() * this.options.refetchJitterMs : 0;
    for (const key of keys) {
      let id;
      try {
        id = keyId(key);
      } catch {
        continue;
      }
      if (key.ctx !== undefined) {
        this._contexts.get(key.ctx)?._invalidate(jitter);
      } else {
        for (const store of this._contexts.values()) {
          if ((store.data && key.fn in store.data) || (!store.data && store._inflight)) store._invalidate(jitter);
        }
      }
      for (const listener of [...(this._invListeners.get(id) ?? [])]) {
        try {
          listener(key, { aud, resync: false });
        } catch (err) {
          this._report(err, `invalidation listener of ${id}`);
        }
      }
    }
  }

  /** Something may have been missed: refetch every context, tell every listener. */
  _refetchAll(reason) {
    const spread = this.options.refetchJitterMs;
    for (const store of this._contexts.values()) store._invalidate(Math.random() * spread);
    for (const [id, listeners] of this._invListeners) {
      const [kind, ...rest] = id.split(":");
      const key = { [kind]: rest.join(":") };
      for (const listener of [...listeners]) {
        try {
          listener(key, { aud: null, resync: true, reason });
        } catch (err) {
          this._report(err, `invalidation listener of ${id}`);
        }
      }
    }
  }
}

export default Mizan;
