import { act, createElement, type ReactNode } from "react";
import { createRoot, type Root } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { QueryClient } from "@tanstack/react-query";
import {
  Mizan,
  MizanContext,
  connectQueryClient,
  mizanQueryKey,
  searchQuery,
  useAddItem,
  useBoardChannel,
  useBoardItems,
  useContactForm,
  useMe,
  useSearchQuery,
  IR_DIGEST,
  type ChannelResult,
  type ContextResult,
  type FormResult,
  type Item,
  type ItemIn,
  type Listing,
  type MutationResult,
  type QueryResult,
  type BoardEvent,
  type BoardPost,
  type ContactInput,
  type Sent,
  type User,
} from "../gen/kitchen/index";
import { FakeServer, FakeSocket, until } from "./fake";


(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const item = (title: string): Item => ({
  id: "00000000-0000-0000-0000-000000000001",
  title,
  price: "1.00",
  when: "2024-01-01",
  at: "10:00:00",
  blob: "",
  color: "red",
  level: 1,
  tags: [],
  meta: {},
  pair: [1, "a"],
  flag: true,
  score: 1,
  note: null,
  firstName: "",
  weight: 1,
});

let server: FakeServer;
let root: Root;
let host: HTMLElement;
let client: Mizan;

function mount(node: ReactNode, props: Record<string, unknown> = {}): void {
  act(() => root.render(createElement(MizanContext, { client, ...props }, node)));
}

function probe<T>(hook: () => T): { current: T } {
  const box = {} as { current: T };
  function Probe(): null {
    box.current = hook();
    return null;
  }
  mount(createElement(Probe));
  return box;
}

/** Let the event loop and React run (each turn inside act, so renders flush) until `check`. */
async function settle(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 5));
    });
  }
}

beforeEach(() => {
  server = new FakeServer();
  host = document.createElement("div");
  root = createRoot(host);
  client = new Mizan({
    url: "ws://test/ws/mizan/",
    prefix: "/api/mizan/",
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    fetch: server.fetch as typeof fetch,
    hydrate: false,
    heartbeatMs: 0,
    reconnectBaseMs: 1,
    reconnectMaxMs: 2,
    refetchJitterMs: 0,
    logger: null,
  });
});

afterEach(() => {
  act(() => root.unmount());
  client.close();
});

describe("context hooks", () => {
  it("load the context, and a mutation resolves only once its invalidation is refetched", async () => {
    let items = [item("first")];
    server.contexts.set("board", () => ({ board_items: items }));
    server.functions.set("add_item", (args) => {
      const added = item((args.item as ItemIn).title);
      items = [...items, added];
      return added;
    });
    server.affects.set("add_item", [{ ctx: "board" }]);
    const box = {} as { list: ContextResult<Listing>; add: MutationResult<[args: { item: ItemIn }], Item> };
    function Probe(): null {
      box.list = useBoardItems();
      box.add = useAddItem();
      return null;
    }
    mount(createElement(Probe));
    await settle(() => box.list.data?.length === 1, "the first load");
    expect(box.list.isLoading).toBe(false);

    let seenAtResolve: number | undefined;
    await act(async () => {
      await box.add.mutate({ item: { ...item("second"), color: undefined } as ItemIn });
      seenAtResolve = client.context<{ board_items: Listing }>("board").data?.board_items.length;
    });
    expect(seenAtResolve).toBe(2);
    expect(box.list.data?.map((i) => i.title)).toEqual(["first", "second"]);
    expect(box.add.data?.title).toBe("second");
  });

  it("refetch every context after a resync frame", async () => {
    let name = "ada";
    server.contexts.set("global", () => ({ me: { id: 1, username: name }, scores: {} }));
    const me = probe<ContextResult<User | null>>(() => useMe());
    await settle(() => me.current.data?.username === "ada", "the first load");
    name = "grace";
    await settle(() => client.state === "open", "the socket");
    server.socket.push({ t: "resync", aud: "user:1", epoch: "e2" });
    await settle(() => me.current.data?.username === "grace", "the refetch after resync");
  });

  it("report a failed load as the hook's error", async () => {
    const me = probe<ContextResult<User | null>>(() => useMe());
    await settle(() => me.current.error !== null, "the error");
    expect(me.current.data).toBeUndefined();
  });
});

describe("query hooks", () => {
  it("run while mounted and run again when the function is invalidated", async () => {
    let calls = 0;
    server.functions.set("search", () => {
      calls += 1;
      return [item(`v${calls}`)];
    });
    const q = probe<QueryResult<Listing>>(() => useSearchQuery({ q: "x" }));
    await settle(() => q.current.data?.[0]?.title === "v1", "the first run");
    server.socket.push({ t: "inv", keys: [{ fn: "search" }], aud: "user:1", seq: 1 });
    await settle(() => q.current.data?.[0]?.title === "v2", "the rerun");
  });
});

describe("channel hooks", () => {
  it("deliver typed messages, resubscribe after a reconnect and report resyncs", async () => {
    const resyncs: string[] = [];
    const ch = probe<ChannelResult<BoardEvent, BoardPost>>(() =>
      useBoardChannel({ board: "main" }, { onResync: (r) => resyncs.push(r) }),
    );
    await settle(() => ch.current.status === "open", "the subscription");
    server.publish("board", { kind: "added", item: item("a") }, 1);
    await settle(() => ch.current.messages.length === 1, "the first message");
    expect(ch.current.last?.item.title).toBe("a");

    const first = server.socket;
    act(() => first.drop());
    await settle(() => server.sockets.length === 2 && server.subs.length === 2, "the resubscription");
    expect(server.subs[1]?.params).toEqual({ board: "main" });
    await settle(() => resyncs.includes("reconnect"), "the reconnect resync");

    server.socket.push({ t: "resync", sub: server.subs[1]?.id, epoch: "e9" });
    await settle(() => resyncs.includes("resync"), "the server resync");
    await settle(() => ch.current.resyncs === 2, "the resync count");

    await act(async () => {
      await ch.current.send({ text: "hi" });
    });
    expect(server.socket.sent.some((f) => f.t === "send" && (f.data as BoardPost).text === "hi")).toBe(true);
  });
});

describe("form hooks", () => {
  it("check in the browser first, then show Django's field and form errors", async () => {
    let submitted = 0;
    server.functions.set("contact.submit", () => {
      submitted += 1;
      throw {
        code: "invalid_params",
        message: "bad",
        details: [
          { loc: ["email"], msg: "Enter a valid email address.", type: "invalid" },
          { loc: ["__all__"], msg: "Try again later.", type: "invalid" },
        ],
      };
    });
    const form = probe<FormResult<ContactInput, Sent>>(() => useContactForm());
    expect(form.current.values).toEqual({ topic: "help", count: 1, tags: ["a"] });

    await act(async () => {
      expect(await form.current.submit()).toBeUndefined();
    });
    expect(submitted).toBe(0);
    expect(form.current.errors.name).toEqual(["This field is required."]);

    act(() => {
      form.current.set("name", "Ada");
      form.current.set("email", "ada@example.com");
    });
    await act(async () => {
      expect(await form.current.submit()).toBeUndefined();
    });
    expect(submitted).toBe(1);
    expect(form.current.errors.email).toEqual(["Enter a valid email address."]);
    expect(form.current.formErrors).toEqual(["Try again later."]);
  });

  it("resolve with the submit's result", async () => {
    server.functions.set("contact.submit", () => ({ sent: true }));
    const form = probe<FormResult<ContactInput, Sent>>(() => useContactForm());
    act(() => form.current.setValues({ name: "Ada", email: "a@b.c", topic: "sales" }));
    let out: Sent | undefined;
    await act(async () => {
      out = await form.current.submit();
    });
    expect(out).toEqual({ sent: true });
    expect(form.current.result).toEqual({ sent: true });
  });
});

describe("version check", () => {
  it("reports a server running another IR", async () => {
    const reports: [string, string][] = [];
    Object.defineProperty(client, "hello", { value: { ir: "f".repeat(64) } });
    mount(null, { onVersionMismatch: (s: string, c: string) => reports.push([s, c]) });
    await settle(() => reports.length === 1, "the mismatch report");
    expect(reports[0]).toEqual(["f".repeat(64), IR_DIGEST]);
  });
});

describe("TanStack Query bridge", () => {
  it("invalidates the queries of an invalidated function", async () => {
    server.functions.set("search", () => [item("x")]);
    const qc = new QueryClient();
    mount(null);
    await settle(() => client.state === "open", "the socket");
    const off = connectQueryClient(client, qc);
    const opts = searchQuery(client, { q: "x" });
    await qc.fetchQuery(opts);
    expect(qc.getQueryState(opts.queryKey)?.isInvalidated).toBe(false);
    server.socket.push({ t: "inv", keys: [{ fn: "search" }], aud: "user:1", seq: 1 });
    await until(() => qc.getQueryState(mizanQueryKey("fn", "search", { q: "x" }))?.isInvalidated === true, "invalidation");
    off();
    qc.clear();
  });
});
