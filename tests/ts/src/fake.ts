/**
 * An in-memory stand-in for a mizan-channels server, for the hook tests in jsdom: it speaks
 * the wire protocol (docs/protocol.md) over a fake WebSocket and answers the HTTP routes
 * through a fake fetch. The real server is exercised by the Python and Chromium suites; here
 * the point is what the hooks do with each frame, in an order the test controls.
 */

type Frame = Record<string, unknown> & { t: string; id?: number };
export type Handler = (args: Record<string, unknown>, server: FakeServer, socket: FakeSocket | null) => unknown;

export class FakeSocket {
  static server: FakeServer;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  readonly sent: Frame[] = [];
  closed = false;

  constructor(readonly url: string) {
    FakeSocket.server.accept(this);
  }

  send(text: string): void {
    const frame = JSON.parse(text) as Frame;
    this.sent.push(frame);
    void Promise.resolve().then(() => FakeSocket.server.receive(this, frame));
  }

  close(): void {
    this.closed = true;
  }

  push(frame: Frame): void {
    if (!this.closed) this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The server side drops the connection. */
  drop(): void {
    this.closed = true;
    this.onclose?.({ code: 1006, reason: "" });
  }
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  readonly functions = new Map<string, Handler>();
  readonly contexts = new Map<string, () => Record<string, unknown>>();
  /** Keys each function's success invalidates (sent as `inv` before `ok`). */
  readonly affects = new Map<string, { ctx?: string; fn?: string }[]>();
  readonly subs: { socket: FakeSocket; id: number; ch: string; params: unknown }[] = [];
  readonly httpLog: string[] = [];
  hello: Record<string, unknown> = {};

  constructor() {
    FakeSocket.server = this;
  }

  get socket(): FakeSocket {
    const s = this.sockets[this.sockets.length - 1];
    if (!s) throw new Error("no socket yet");
    return s;
  }

  accept(socket: FakeSocket): void {
    this.sockets.push(socket);
    void Promise.resolve().then(() => socket.push({ t: "hello", v: 1, conn: `c${this.sockets.length}`, epoch: "e1", ...this.hello }));
  }

  private run(fn: string, args: Record<string, unknown>, socket: FakeSocket | null): { data?: unknown; error?: Frame } {
    const handler = this.functions.get(fn);
    if (!handler) return { error: { code: "unknown_function", message: fn } as unknown as Frame };
    try {
      return { data: handler(args, this, socket) };
    } catch (err) {
      if (err && typeof err === "object" && "code" in err) return { error: err as unknown as Frame };
      throw err;
    }
  }

  receive(socket: FakeSocket, f: Frame): void {
    if (f.t === "ping") socket.push({ t: "pong", id: f.id });
    else if (f.t === "call") {
      const fn = f.fn as string;
      const out = this.run(fn, (f.args ?? {}) as Record<string, unknown>, socket);
      if (out.error) return socket.push({ t: "err", id: f.id, error: out.error });
      const keys = this.affects.get(fn) ?? [];
      if (keys.length) socket.push({ t: "inv", keys, aud: "user:1", seq: 1 });
      socket.push({ t: "ok", id: f.id, data: out.data ?? null });
    } else if (f.t === "sub") {
      this.subs.push({ socket, id: f.id as number, ch: f.ch as string, params: f.params });
      socket.push({ t: "ok", id: f.id, data: { sub: f.id, epoch: "e1", seq: 0, recovered: false } });
    } else if (f.t === "unsub" || f.t === "send") {
      socket.push({ t: "ok", id: f.id, data: null });
    }
  }

  /** Push a channel message to every live subscription of `ch`. */
  publish(ch: string, data: unknown, seq: number): void {
    for (const s of this.subs) if (s.ch === ch && !s.socket.closed) s.socket.push({ t: "msg", sub: s.id, data, seq });
  }

  fetch = async (url: string, init?: RequestInit): Promise<Response> => {
    this.httpLog.push(`${init?.method ?? "GET"} ${url}`);
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    const ctx = /ctx\/([^/]+)$/.exec(url);
    if (ctx) {
      const make = this.contexts.get(decodeURIComponent(ctx[1] ?? ""));
      return make ? json(200, { data: make() }) : json(404, { error: { code: "unknown_function", message: "no" } });
    }
    const call = /call\/([^/]+)$/.exec(url);
    if (call) {
      const fn = decodeURIComponent(call[1] ?? "");
      const out = this.run(fn, JSON.parse(String(init?.body ?? "{}")) as Record<string, unknown>, null);
      if (out.error) return json(400, { error: out.error });
      return json(200, { data: out.data ?? null, inv: this.affects.get(fn) ?? [] });
    }
    return json(404, {});
  };
}

/** Wait until `check` holds, polling the event loop (no fixed sleeps). */
export async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
