/**
 * Type conformance of the generated client (kitchen-sink IR): every `@ts-expect-error` line
 * must be an error under `tsc --strict`, so a generator that loosens a type fails the build.
 */
import {
  Mizan,
  callAddItem,
  callEcho,
  callNothing,
  callSearch,
  callTree,
  fetchGlobalContext,
  subscribeBoard,
  subscribeTicker,
  useAddItem,
  useBoardChannel,
  useContactForm,
  useTickerChannel,
  useMe,
  useSearchQuery,
  type Color,
  type EchoInput,
  type Item,
  type ItemIn,
  type Level,
  type Node,
  type SearchInput,
} from "../gen/kitchen/index";

declare const m: Mizan;
declare const item: Item;
declare const itemIn: ItemIn;

export async function calls(): Promise<void> {
  const echoed = await callEcho(m, { text: "hi" });
  const message: string = echoed.message;
  const at: string = echoed.at; // datetimes arrive as strings
  // @ts-expect-error `text` is required
  await callEcho(m, {});
  // @ts-expect-error `text` is a string
  await callEcho(m, { text: 1 });
  // @ts-expect-error an unknown field
  await callEcho(m, { text: "a", loud: true } satisfies EchoInput);
  // defaulted inputs may be left out, so the whole argument may be
  await callSearch(m);
  await callSearch(m, { limit: 5 } satisfies SearchInput);
  // @ts-expect-error no arguments to a function without input
  await callNothing(m, {});
  const none: null = await callNothing(m);
  void [message, at, none];
}

export function views(): void {
  // Output view: defaulted fields are always present, renamed fields under their output name.
  const color: Color = item.color;
  const first: string = item.firstName;
  // @ts-expect-error the output view uses the output name
  void item["first-name"];
  // Input view: defaulted fields are optional, the wire name is the input name.
  const sent: ItemIn = { ...itemIn, color: undefined, "first-name": "Ada" };
  // @ts-expect-error required fields stay required in the input view
  const missing: ItemIn = { title: "x" };
  // @ts-expect-error `note` is optional (| null), not a number
  const wrong: Item = { ...item, note: 3 };
  void [color, first, sent, missing, wrong];
}

export function shapes(n: Node, level: Level): void {
  // Unions stay unions; discriminated on `kind`.
  if (n.kind === "leaf") {
    const v: number = n.value;
    void v;
  } else {
    const kids: Node[] = n.children;
    void kids;
  }
  // @ts-expect-error enums are literal unions
  const bad: Level = 4;
  // @ts-expect-error string-literal enums too
  const badColor: Color = "pink";
  const pair: [number, string] = item.pair;
  // @ts-expect-error tuples keep their positions
  const swapped: [string, number] = item.pair;
  const score: number | boolean = item.score;
  const meta: { [key: string]: unknown } = item.meta;
  // @ts-expect-error `any` is `unknown`: check it before use
  const metaNumber: number = item.meta["x"];
  void [bad, badColor, pair, swapped, score, meta, metaNumber, level];
}

export async function channels(): Promise<void> {
  const sub = subscribeBoard(m, { board: "main" }, { onMessage: (e) => void e.item.title });
  await sub.send({ text: "hi" });
  // @ts-expect-error the client message is BoardPost
  await sub.send({ body: "hi" });
  const ticker = subscribeTicker(m, {});
  // @ts-expect-error a channel without a client message can't be sent to
  await ticker.send({});
  // @ts-expect-error params are required
  subscribeBoard(m, {});
  const g = await fetchGlobalContext(m);
  const user: { id: number; username: string } | null = g.me;
  void [user, callAddItem, callTree];
}

export function hooks(): void {
  const me = useMe();
  const name: string | undefined = me.data?.username;
  const add = useAddItem();
  void add.mutate({ item: itemIn }).then((i) => i.id);
  // @ts-expect-error mutate takes the function's input
  void add.mutate({ item: 1 });
  const q = useSearchQuery({ q: "x" });
  const titles: string[] | undefined = q.data?.map((i) => i.title);
  const board = useBoardChannel({ board: "main" });
  const last: string | undefined = board.last?.kind;
  void board.send({ text: "hi" });
  // @ts-expect-error typed client messages
  void board.send({ text: 1 });
  const form = useContactForm();
  form.set("name", "Ada");
  // @ts-expect-error only the form's fields
  form.set("nope", "x");
  const errs: string[] | undefined = form.errors.email;
  const ticker = useTickerChannel({ symbol: "X" } as never);
  const online: string[] = Object.values(ticker.roster ?? {}).flatMap((conns) =>
    Object.values(conns).map((meta) => meta.name),
  );
  // @ts-expect-error the roster carries the channel's presence metadata
  const wrong: number = Object.values(ticker.roster ?? {})[0]?.["r"]?.name;
  // @ts-expect-error channels without presence have no roster type
  const none: string = Object.values(board.roster ?? {})[0]?.["r"]?.name;
  void [name, titles, last, errs, online, wrong, none];
}
