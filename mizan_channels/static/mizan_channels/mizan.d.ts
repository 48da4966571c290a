// Type declarations of mizan.js, the browser runtime of mizan-channels (protocol v1).
// Generated clients and hand-written TypeScript import the module and get these types.

export declare const PROTOCOL_VERSION: 1;

/** The protocol's error codes, plus the three the client raises itself. */
export type ProtocolErrorCode =
  | "bad_frame"
  | "too_large"
  | "unknown_function"
  | "unknown_channel"
  | "not_exposed"
  | "invalid_params"
  | "unauthorized"
  | "forbidden"
  | "not_subscribed"
  | "rate_limited"
  | "server_error";
export type ClientErrorCode = "timeout" | "connection_lost" | "closed" | "network";
export type ErrorCode = ProtocolErrorCode | ClientErrorCode;

/** One failing field of an `invalid_params` error. */
export interface FieldErrorDetail {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** The `error` object of an `err` frame or an HTTP error body. */
export interface ErrorPayload {
  code: string;
  message: string;
  details?: unknown;
}

export declare class MizanError extends Error {
  constructor(code: string, message?: string, details?: unknown, status?: number);
  readonly code: ErrorCode | string;
  readonly details: unknown;
  /** The HTTP status of the code (also set for socket errors). */
  status: number | undefined;
  static fromPayload(error: ErrorPayload, status?: number): MizanError;
}

interface MizanErrorClass<C extends string, D = unknown> {
  new (message?: string, details?: D): MizanError & { readonly code: C; readonly details: D };
  readonly code: C;
}

export declare const BadFrameError: MizanErrorClass<"bad_frame">;
export declare const TooLargeError: MizanErrorClass<"too_large">;
export declare const UnknownFunctionError: MizanErrorClass<"unknown_function">;
export declare const UnknownChannelError: MizanErrorClass<"unknown_channel">;
export declare const NotExposedError: MizanErrorClass<"not_exposed">;
export declare const InvalidParamsError: MizanErrorClass<"invalid_params", FieldErrorDetail[]>;
export declare const UnauthorizedError: MizanErrorClass<"unauthorized">;
export declare const ForbiddenError: MizanErrorClass<"forbidden">;
export declare const NotSubscribedError: MizanErrorClass<"not_subscribed">;
export declare const RateLimitedError: MizanErrorClass<"rate_limited">;
export declare const ServerError: MizanErrorClass<"server_error">;
export declare const RequestTimeoutError: MizanErrorClass<"timeout">;
export declare const ConnectionLostError: MizanErrorClass<"connection_lost">;
export declare const ClientClosedError: MizanErrorClass<"closed">;
export declare const NetworkError: MizanErrorClass<"network">;
export declare const ERROR_CLASSES: Readonly<Record<ErrorCode, MizanErrorClass<string>>>;

/** Data the `{% mizan_context NAME %}` tag embedded in the page, or null. */
export declare function readHydrated<T = Record<string, unknown>>(name: string, doc?: Document): T | null;
/** Django's CSRF token, from the cookie or a rendered `{% csrf_token %}` input. */
export declare function csrfToken(cookieName?: string, doc?: Document): string;

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
export type InvalidationKey = { ctx: string } | { fn: string };

export interface MizanOptions {
  /** Full socket URL; default: ws(s)://<this page's host><path>. */
  url?: string | null;
  /** Socket path on this page's host (MIZAN_WS_PATH). Default "/ws/mizan/". */
  path?: string;
  /** Where `mizan_channels.urls` is mounted. Default "/api/mizan/". */
  prefix?: string;
  /** "session" (cookies) or "mwt" (fetch {prefix}mwt, then send an `auth` frame). */
  auth?: "session" | "mwt";
  /** A token (or a function returning one) to authenticate the socket with, instead of {prefix}mwt. */
  token?: string | (() => string | Promise<string>) | null;
  /** fetch() credentials mode for HTTP calls and contexts. Default "same-origin". */
  credentials?: RequestCredentials;
  csrfCookieName?: string;
  /** Milliseconds before a request without reply fails with RequestTimeoutError. Default 15000. */
  requestTimeout?: number;
  /** Frames above this many bytes fail with TooLargeError without being sent. Default 1 MiB. */
  maxFrameBytes?: number;
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxMs (with jitter). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Ping interval (0: none) and how long a pong may take before the socket counts as dead. */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** Refetches caused by shared invalidations are spread over up to this many milliseconds. */
  refetchJitterMs?: number;
  /** Read `{% mizan_context %}` data from the page. Default true. */
  hydrate?: boolean;
  /** Open the socket in the constructor. Default true. */
  connect?: boolean;
  WebSocket?: typeof WebSocket | null;
  fetch?: typeof fetch | null;
  logger?: Pick<Console, "info" | "warn" | "error"> | null;
}

export interface CallOptions {
  timeout?: number;
}

/** Who is subscribed to a channel with presence: user key -> connection ref -> that
 *  connection's metadata (the channel's PresenceMeta; `{id, username}` by default). A user
 *  is present while their entry holds a ref. Keys are user pks as strings, `anon:...` for
 *  anonymous visitors. */
export type Roster<P = unknown> = Record<string, Record<string, P>>;

/** A `presence` frame (or the roster of an `ok`): a diff, or the whole roster (`state`). */
export interface PresenceFrame<P = unknown> {
  t?: "presence";
  sub?: number;
  seq?: number;
  joins?: Roster<P>;
  leaves?: Record<string, string[]>;
  state?: Roster<P>;
}

/** The roster with `frame` applied, as a new object (unchanged entries are shared). */
export declare function applyPresence<P = unknown>(roster: Roster<P> | null, frame: PresenceFrame<P>): Roster<P>;

export interface SubscribeOk<P = unknown> {
  sub: number;
  epoch: string;
  seq: number;
  recovered?: boolean;
  /** Channels with presence: the roster, exact at stream position `seq`. */
  presence?: { seq: number; state: Roster<P> };
  [extra: string]: unknown;
}

export interface MessageInfo<M> {
  seq: number | undefined;
  sub: Subscription<M>;
}

export interface ResyncInfo<M> {
  /** "resync" (the server said so), "gap" (a seq was skipped), "reconnect" (not replayed). */
  reason: "resync" | "gap" | "reconnect";
  sub: Subscription<M>;
}

export interface PresenceInfo<M, P> {
  /** Keys of users who appeared, and of users whose last connection left. */
  joined: string[];
  left: string[];
  /** True when the roster was replaced whole (the `ok` of a (re)subscription, or after a resync). */
  reset: boolean;
  sub: Subscription<M, unknown, unknown, P>;
}

export interface SubscriptionHandlers<M, P = unknown> {
  onMessage?: (data: M, info: MessageInfo<M>) => void;
  /** Something may have been missed: refetch what this subscription shows. */
  onResync?: (info: ResyncInfo<M>) => void;
  /** The server ended the subscription (e.g. "unauthorized" after the user changed). */
  onEnd?: (reason: string) => void;
  /** Subscribing failed (ForbiddenError, InvalidParamsError...); the subscription is over. */
  onError?: (error: MizanError) => void;
  /** Channels with presence: the roster after each change (a new object every time). */
  onPresence?: (roster: Roster<P>, info: PresenceInfo<M, P>) => void;
}

export declare class Subscription<M = unknown, S = unknown, R = unknown, P = unknown> {
  readonly channel: string;
  readonly params: Record<string, unknown>;
  /** The `sub` frame's id on the current socket (changes on reconnect). */
  readonly id: number | null;
  readonly epoch: string | null;
  readonly seq: number | null;
  readonly active: boolean;
  readonly acked: boolean;
  /** Channels with presence: who is subscribed, kept current; null before the first `ok` and
   *  on channels without presence. While reconnecting it is the last roster known. */
  readonly roster: Roster<P> | null;
  /** The first `ok` ({sub, epoch, seq, presence?}); rejects if subscribing fails. */
  readonly ready: Promise<SubscribeOk<P>>;
  /** A client message (channels with a ReactMessage); resolves with `receive()`'s reply. */
  send(data: S, options?: CallOptions): Promise<R>;
  unsubscribe(): void;
}

export declare class ContextStore<T extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly data: T | null;
  readonly error: MizanError | null;
  /** True between an invalidation and the refetch that follows it. */
  readonly stale: boolean;
  get<K extends keyof T>(fn: K): T[K] | undefined;
  subscribe(listener: (data: T, store: ContextStore<T>) => void): () => void;
  refresh(): Promise<T>;
  ready(): Promise<T>;
}

export interface InvalidationInfo {
  aud: string | null;
  resync: boolean;
  reason?: "resync" | "reconnect";
}

export declare class Mizan {
  constructor(options?: MizanOptions);
  readonly options: Required<MizanOptions>;
  readonly url: string;
  readonly state: ConnectionState;
  /** The server's connection id (from `hello`). */
  readonly conn: string | null;
  /** The last `hello` frame: protocol version `v`, `conn`, `epoch` and the server's IR
   *  digest `ir` (compare with a generated client's `IR_DIGEST`). */
  readonly hello: { t: "hello"; v: number; conn: string; epoch: unknown; ir?: string } | null;
  readonly epochs: Record<string, string>;
  /** Sockets that reached "open"; above 1 means the client has reconnected. */
  readonly connections: number;
  connect(): void;
  close(): void;
  call<R = unknown, A extends object = Record<string, unknown>>(
    fn: string,
    args?: A,
    options?: CallOptions,
  ): Promise<R>;
  http<R = unknown, A extends object = Record<string, unknown>>(fn: string, args?: A): Promise<R>;
  subscribe<M = unknown, S = unknown, R = unknown, P = unknown>(
    channel: string,
    params?: Record<string, unknown>,
    handlers?: SubscriptionHandlers<M, P>,
  ): Subscription<M, S, R, P>;
  context<T extends Record<string, unknown> = Record<string, unknown>>(name: string): ContextStore<T>;
  onInvalidate(key: InvalidationKey, listener: (key: InvalidationKey, info: InvalidationInfo) => void): () => void;
  onState(listener: (state: ConnectionState, client: Mizan) => void): () => void;
  onError(listener: (error: unknown, where: string) => void): () => void;
  /** Round trip in milliseconds. */
  ping(options?: CallOptions): Promise<number>;
}

export default Mizan;
