import * as React from "react";
import {
  Mizan,
  MizanError,
  type ContextStore,
  type InvalidationKey,
  type MizanOptions,
  type Roster,
  type Subscription,
} from "./mizan.js";
import { IR_DIGEST } from "./api";

// The provider --------------------------------------------------------------------------

/** One per provider: the runtime client plus the hooks' shared query cache. */
export class MizanHub {
  readonly client: Mizan;
  private readonly queries = new Map<string, QueryEntry>();
  private readonly watched = new Set<string>();
  private readonly contextLoads = new Map<string, () => void>();

  constructor(client: Mizan) {
    this.client = client;
  }

  /** The cache entry of `fn` called with `args` (created on first use). */
  query(fn: string, args: object, run: () => Promise<unknown>): QueryEntry {
    const key = fn + "\u0000" + stableJson(args);
    let entry = this.queries.get(key);
    if (!entry) {
      entry = new QueryEntry(fn, run, () => this.queries.delete(key));
      this.queries.set(key, entry);
    }
    if (!this.watched.has(fn)) {
      // `onInvalidate` listeners also run on every resync and reconnect.
      this.watched.add(fn);
      this.client.onInvalidate({ fn }, () => {
        for (const e of this.queries.values()) if (e.fn === fn) e.invalidate();
      });
    }
    return entry;
  }

  /** A context store whose changes (loads, invalidations, failures) reach React. */
  context<D extends Record<string, unknown>>(name: string): ContextStore<D> {
    const store = this.client.context<D>(name);
    if (!this.contextLoads.has(name)) {
      const ping = () => notify(store);
      this.contextLoads.set(name, ping);
      store.subscribe(ping);
      this.client.onInvalidate({ ctx: name }, ping);
    }
    return store;
  }

  /** Called by the provider's error listener: a failed context refetch is news too. */
  contextFailed(where: string): void {
    const name = where.startsWith("context ") ? where.slice(8) : null;
    if (name !== null) this.contextLoads.get(name)?.();
  }

  /** Resolve once what `keys` invalidated has been fetched again (for what is on screen). */
  async settle(keys: readonly InvalidationKey[]): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const key of keys) {
      if ("ctx" in key) {
        if (this.contextLoads.has(key.ctx)) waits.push(settleStore(this.client.context(key.ctx)));
      } else {
        for (const name of this.contextLoads.keys()) {
          const store = this.client.context(name);
          if (store.data && key.fn in store.data) waits.push(settleStore(store));
        }
        for (const e of this.queries.values()) if (e.fn === key.fn) waits.push(e.settled());
      }
    }
    await Promise.all(waits);
  }
}

const storeListeners = new WeakMap<object, Set<() => void>>();
const storeSnapshots = new WeakMap<object, ContextSnapshot>();

interface ContextSnapshot {
  data: Record<string, unknown> | null;
  error: unknown;
  stale: boolean;
}

function notify(store: ContextStore<Record<string, unknown>>): void {
  for (const listener of [...(storeListeners.get(store) ?? [])]) listener();
}

function snapshotOf(store: ContextStore<Record<string, unknown>>): ContextSnapshot {
  const last = storeSnapshots.get(store);
  if (last && last.data === store.data && last.error === store.error && last.stale === store.stale) {
    return last;
  }
  const next = { data: store.data, error: store.error, stale: store.stale };
  storeSnapshots.set(store, next);
  return next;
}

/** Wait for the refetch an invalidation started. ContextStore exposes no such promise, so
 *  this peeks at the one it keeps; without it, it fetches once more. */
async function settleStore(store: ContextStore<Record<string, unknown>>): Promise<void> {
  if (!store.stale) return;
  const internal = store as unknown as { _again?: Promise<unknown> | null; _inflight?: Promise<unknown> | null };
  const pending = internal._again ?? internal._inflight;
  if (pending) await pending.catch(() => undefined);
  if (store.stale) await store.refresh().catch(() => undefined);
}

const HubContext = React.createContext<MizanHub | null>(null);

export interface MizanContextProps {
  /** Where `mizan_channels.urls` is mounted (default "/api/mizan/"). */
  baseUrl?: string;
  /** Runtime options (socket path, auth, timeouts ...). */
  options?: MizanOptions;
  /** Use this client instead of creating one (it is then yours to close). */
  client?: Mizan;
  /** Failures nobody awaited (a context refetch ...); default: console.warn. */
  onError?: (error: unknown, where: string) => void;
  /** The server runs another IR than this client was generated from. */
  onVersionMismatch?: (server: string, client: string) => void;
  children?: React.ReactNode;
}

/** The provider every hook needs: one runtime client (one socket) for everything below. */
export function MizanContext(props: MizanContextProps): React.ReactElement {
  const { baseUrl, options, client, children } = props;
  const [hub] = React.useState(() => {
    const prefix = baseUrl ?? options?.prefix ?? "/api/mizan/";
    // Connect in an effect, not during render: StrictMode renders twice.
    return new MizanHub(client ?? new Mizan({ ...options, prefix, connect: false }));
  });
  const handlers = React.useRef(props);
  handlers.current = props;
  const closing = React.useRef<ReturnType<typeof setTimeout> | null>(null);
  React.useEffect(() => {
    const m = hub.client;
    if (closing.current !== null) clearTimeout(closing.current);
    closing.current = null;
    const offError = m.onError((error, where) => {
      hub.contextFailed(where);
      const onError = handlers.current.onError;
      if (onError) onError(error, where);
      else console.warn(`mizan: ${where}:`, error);
    });
    const checkVersion = () => {
      const server = (m as unknown as { hello?: { ir?: unknown } | null }).hello?.ir;
      if (typeof server !== "string" || server === IR_DIGEST) return;
      const report = handlers.current.onVersionMismatch;
      if (report) report(server, IR_DIGEST);
      else
        console.warn(
          `mizan: this client was generated from IR ${IR_DIGEST.slice(0, 12)} but the server ` +
            `runs ${server.slice(0, 12)}; regenerate it (manage.py generate_mizan_client).`,
        );
    };
    const offState = m.onState((state) => {
      if (state === "open") checkVersion();
    });
    if (m.state === "open") checkVersion();
    if (!client) m.connect();
    return () => {
      offError();
      offState();
      // StrictMode unmounts and mounts again at once: close only if nothing came back.
      if (!client) closing.current = setTimeout(() => m.close(), 0);
    };
  }, [hub, client]);
  return React.createElement(HubContext.Provider, { value: hub }, children);
}

/** The provider's hub; throws, saying what is missing, outside a `<MizanContext>`. */
export function useMizanHub(hook = "This hook"): MizanHub {
  const hub = React.useContext(HubContext);
  if (!hub) throw new Error(`${hook} needs a <MizanContext> above it in the tree.`);
  return hub;
}

/** The runtime client of the nearest `<MizanContext>`. */
export function useMizan(): Mizan {
  return useMizanHub("useMizan()").client;
}

// Contexts ------------------------------------------------------------------------------

export interface ContextResult<T> {
  /** The value; undefined until the first load. */
  data: T | undefined;
  error: MizanError | null;
  isLoading: boolean;
  /** Invalidated, refetch in flight: `data` is the previous value. */
  isStale: boolean;
  refetch: () => Promise<void>;
}

function useContextSnapshot(hook: string, ctx: string): [ContextStore<Record<string, unknown>>, ContextSnapshot] {
  const hub = useMizanHub(hook);
  const store = hub.context<Record<string, unknown>>(ctx);
  const subscribe = React.useCallback(
    (listener: () => void) => {
      let set = storeListeners.get(store);
      if (!set) storeListeners.set(store, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    },
    [store],
  );
  const get = () => snapshotOf(store);
  return [store, React.useSyncExternalStore(subscribe, get, get)];
}

/** One function's value in context `ctx`: SSR-hydrated, refetched on `inv` and `resync`. */
export function useContextValue<T>(hook: string, ctx: string, fn: string): ContextResult<T> {
  const [store, snap] = useContextSnapshot(hook, ctx);
  const refetch = React.useCallback(async () => {
    await store.refresh();
  }, [store]);
  return {
    data: snap.data ? (snap.data[fn] as T) : undefined,
    error: snap.error instanceof MizanError ? snap.error : snap.error ? new MizanError("network", String(snap.error)) : null,
    isLoading: snap.data === null && !snap.error,
    isStale: snap.stale && snap.data !== null,
    refetch,
  };
}

/** Every function of context `ctx` at once. */
export function useContextData<D>(hook: string, ctx: string): ContextResult<D> {
  const [store, snap] = useContextSnapshot(hook, ctx);
  const refetch = React.useCallback(async () => {
    await store.refresh();
  }, [store]);
  return {
    data: (snap.data ?? undefined) as D | undefined,
    error: snap.error instanceof MizanError ? snap.error : null,
    isLoading: snap.data === null && !snap.error,
    isStale: snap.stale && snap.data !== null,
    refetch,
  };
}

// Queries -------------------------------------------------------------------------------

interface QuerySnapshot {
  data: unknown;
  error: MizanError | null;
  status: "idle" | "loading" | "success" | "error";
  isFetching: boolean;
}

/** One (function, arguments) pair: its value, and who is watching it. */
export class QueryEntry {
  snapshot: QuerySnapshot = { data: undefined, error: null, status: "idle", isFetching: false };
  private listeners = new Set<() => void>();
  private inflight: Promise<void> | null = null;
  private again = false;
  private dropTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly fn: string,
    private run: () => Promise<unknown>,
    private drop: () => void,
  ) {}

  subscribe(listener: () => void): () => void {
    if (this.dropTimer !== null) clearTimeout(this.dropTimer);
    this.dropTimer = null;
    this.listeners.add(listener);
    if (this.snapshot.status === "idle") void this.fetch();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.dropTimer = setTimeout(() => this.drop(), 0);
    };
  }

  /** Fetch now; a fetch asked for during one runs again after it, so no change is missed. */
  fetch(): Promise<void> {
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.set({ isFetching: true, status: this.snapshot.status === "success" ? "success" : "loading" });
    this.inflight = (async () => {
      do {
        this.again = false;
        try {
          const data = await this.run();
          if (!this.again) this.set({ data, error: null, status: "success", isFetching: false });
        } catch (err) {
          const error = err instanceof MizanError ? err : new MizanError("network", String(err));
          if (!this.again) this.set({ error, status: "error", isFetching: false });
        }
      } while (this.again);
      this.inflight = null;
    })();
    return this.inflight;
  }

  invalidate(): void {
    if (this.listeners.size > 0) void this.fetch();
    else this.snapshot = { ...this.snapshot, status: "idle" };
  }

  /** Resolves when no fetch is in flight. */
  settled(): Promise<void> {
    return this.inflight ?? Promise.resolve();
  }

  private set(patch: Partial<QuerySnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of [...this.listeners]) listener();
  }
}

export interface QueryResult<T> {
  data: T | undefined;
  error: MizanError | null;
  status: "idle" | "loading" | "success" | "error";
  isLoading: boolean;
  isFetching: boolean;
  refetch: () => Promise<void>;
}

/** Call `fn` with `args` while mounted; refetched on `inv` of `fn` and on every resync. */
export function useQueryCall<T>(
  hook: string,
  fn: string,
  args: object,
  run: (m: Mizan) => Promise<T>,
  enabled = true,
): QueryResult<T> {
  const hub = useMizanHub(hook);
  const key = stableJson(args);
  const runRef = React.useRef(run);
  runRef.current = run;
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `key` stands for `args`
  const entry = React.useMemo(() => hub.query(fn, args, () => runRef.current(hub.client)), [hub, fn, key]);
  const subscribe = React.useCallback(
    (listener: () => void) => (enabled ? entry.subscribe(listener) : () => undefined),
    [entry, enabled],
  );
  const get = () => entry.snapshot;
  const snap = React.useSyncExternalStore(subscribe, get, get);
  return {
    data: snap.data as T | undefined,
    error: snap.error,
    status: snap.status,
    isLoading: snap.status === "loading",
    isFetching: snap.isFetching,
    refetch: () => entry.fetch(),
  };
}

// Mutations -----------------------------------------------------------------------------

export interface MutationResult<A extends unknown[], T> {
  /** Resolves with the result once its invalidations have been refetched (what is on
   *  screen is then fresh); rejects with a MizanError. */
  mutate: (...args: A) => Promise<T>;
  data: T | undefined;
  error: MizanError | null;
  isPending: boolean;
  reset: () => void;
}

/** Call a server function on demand. `affects` are the keys it invalidates (from the IR). */
export function useMutationCall<A extends unknown[], T>(
  hook: string,
  run: (m: Mizan, ...args: A) => Promise<T>,
  affects: readonly InvalidationKey[],
): MutationResult<A, T> {
  const hub = useMizanHub(hook);
  const [state, setState] = React.useState<{ data: T | undefined; error: MizanError | null; pending: number }>({
    data: undefined,
    error: null,
    pending: 0,
  });
  const mounted = React.useRef(true);
  React.useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  const runRef = React.useRef(run);
  runRef.current = run;
  const mutate = React.useCallback(
    async (...args: A): Promise<T> => {
      setState((s) => ({ ...s, pending: s.pending + 1 }));
      try {
        const data = await runRef.current(hub.client, ...args);
        await hub.settle(affects);
        if (mounted.current) setState((s) => ({ data, error: null, pending: s.pending - 1 }));
        return data;
      } catch (err) {
        const error = err instanceof MizanError ? err : new MizanError("network", String(err));
        if (mounted.current) setState((s) => ({ ...s, error, pending: s.pending - 1 }));
        throw error;
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps -- affects is a generated constant
    [hub],
  );
  const reset = React.useCallback(() => setState({ data: undefined, error: null, pending: 0 }), []);
  return { mutate, data: state.data, error: state.error, isPending: state.pending > 0, reset };
}

// Channels ------------------------------------------------------------------------------

export interface ChannelOptions<M> {
  /** Each message, as it arrives (also replayed ones after a reconnect). */
  onMessage?: (message: M) => void;
  /** Messages may have been missed (server `resync`, a gap, a reconnect without replay):
   *  refetch what the channel shows. */
  onResync?: (reason: "resync" | "gap" | "reconnect") => void;
  /** How many recent messages `messages` keeps (default 100; 0 keeps none). */
  keep?: number;
  /** Subscribe only while true (default true). */
  enabled?: boolean;
}

export interface ChannelResult<M, C, R = never> {
  /** The most recent messages, oldest first. */
  messages: M[];
  /** Channels with presence: who is subscribed (user key -> connection ref -> metadata),
   *  kept current from the server's diffs; null before subscribing and without presence. */
  roster: Roster<R> | null;
  last: M | undefined;
  status: "idle" | "subscribing" | "open" | "ended" | "error";
  error: MizanError | null;
  /** Counts resyncs: use it as a dependency to refetch history. */
  resyncs: number;
  /** Send a client message (channels that accept them). */
  send: (data: C) => Promise<unknown>;
}

/** Subscribe while mounted; the runtime subscribes again after every reconnect. */
export function useChannelSubscription<P extends object, M, C, R = never>(
  hook: string,
  channel: string,
  params: P,
  options: ChannelOptions<M> = {},
): ChannelResult<M, C, R> {
  const hub = useMizanHub(hook);
  const key = stableJson(params);
  const opts = React.useRef(options);
  opts.current = options;
  const enabled = options.enabled ?? true;
  const [state, setState] = React.useState<{
    messages: M[];
    roster: Roster<R> | null;
    status: ChannelResult<M, C, R>["status"];
    error: MizanError | null;
    resyncs: number;
  }>({ messages: [], roster: null, status: "idle", error: null, resyncs: 0 });
  const subRef = React.useRef<Subscription<M, C, unknown, R> | null>(null);
  React.useEffect(() => {
    if (!enabled) return undefined;
    setState({ messages: [], roster: null, status: "subscribing", error: null, resyncs: 0 });
    const params = JSON.parse(key) as Record<string, unknown>;
    const sub = hub.client.subscribe<M, C, unknown, R>(channel, params, {
      onPresence: (roster) => setState((s) => ({ ...s, roster })),
      onMessage: (data) => {
        const keep = opts.current.keep ?? 100;
        if (keep > 0) setState((s) => ({ ...s, messages: [...s.messages, data].slice(-keep) }));
        opts.current.onMessage?.(data);
      },
      onResync: ({ reason }) => {
        setState((s) => ({ ...s, resyncs: s.resyncs + 1 }));
        opts.current.onResync?.(reason);
      },
      onEnd: () => setState((s) => ({ ...s, status: "ended" })),
      onError: (error) => setState((s) => ({ ...s, status: "error", error })),
    });
    subRef.current = sub;
    sub.ready.then(
      () => setState((s) => (s.status === "subscribing" ? { ...s, status: "open" } : s)),
      () => undefined,
    );
    return () => {
      subRef.current = null;
      sub.unsubscribe();
    };
  }, [hub, channel, key, enabled]);
  const send = React.useCallback(async (data: C) => {
    const sub = subRef.current;
    if (!sub) throw new MizanError("not_subscribed", `Not subscribed to ${channel}.`);
    return sub.send(data);
  }, [channel]);
  return { ...state, last: state.messages[state.messages.length - 1], send };
}

// Helpers -------------------------------------------------------------------------------

/** JSON with sorted keys: equal arguments give equal cache keys whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
