"""Stage 1 (`api.ts`): typed call, fetch and subscribe functions over the browser runtime.

Each is a one-line typed wrapper over `Mizan.call` / `Mizan.http` / `Mizan.context` /
`Mizan.subscribe`, so Stage 1 works without React and adds nothing to a bundle but names.
The transport is the function's own (`websocket=True` functions ride the socket, the rest go
over HTTP), and the runtime applies every invalidation a call caused before its promise
resolves. Also here: the IR digest, and TanStack Query keys plus `connectQueryClient` for
apps that keep their server state in TanStack Query.
"""

from __future__ import annotations

from ..ir.model import Channel, Document, Function, Primitive
from .names import Namespace, camel, doc_comment, json_string, pascal
from .plan import Plan
from .typescript import ts_shape


def callable_functions(doc: Document) -> list[Function]:
    """Functions a client can call (route functions are plain Django views)."""
    return sorted((f for f in doc.functions if f.route is None), key=lambda f: f.name)


def contexts(doc: Document) -> dict[str, list[Function]]:
    out: dict[str, list[Function]] = {}
    for f in callable_functions(doc):
        if f.context is not None:
            out.setdefault(f.context, []).append(f)
    return dict(sorted(out.items()))


def is_query(f: Function) -> bool:
    """Safe to run on its own: no context (those have theirs), no affects, not a form step,
    and something to read. A function returning None (`-> None`) is a command: run on mount
    and again on every resync it would repeat its effect (an email sent each time)."""
    returns_nothing = f.output is None or (
        isinstance(f.output, Primitive) and f.output.kind == "null"
    )
    return (
        f.context is None
        and not f.affects
        and f.form is None
        and f.route is None
        and not returns_nothing
    )


def output_type(f: Function, plan: Plan) -> str:
    return "null" if f.output is None else ts_shape(f.output, plan, "out", "T.")


def args_param(f: Function, plan: Plan) -> tuple[str, str]:
    """(parameter declaration, expression to send) for `f`'s arguments."""
    if f.input is None:
        return "", "{}"
    t = plan.types.get(f.input)
    all_optional = t is not None and all(x.default is not None for x in getattr(t, "fields", ()))
    name = "T." + plan.name(f.input, "in")
    return (f"args: {name} = {{}}" if all_optional else f"args: {name}"), "args"


def context_type(name: str) -> str:
    return pascal(name) + "ContextData"


def emit(doc: Document, plan: Plan, ns: Namespace, digest: str) -> list[str]:
    lines = [
        'import type { Mizan, Subscription, SubscriptionHandlers } from "./mizan.js";',
        'import type * as T from "./types";',
        "",
        "/** SHA-256 of the IR this client was generated from; the server reports its own in",
        " * `hello`, and `<MizanContext>` warns when they differ. */",
        f"export const IR_DIGEST = {json_string(digest)};",
        "",
    ]
    ns.claim("IR_DIGEST", "the IR digest constant")
    for ctx, fns in contexts(doc).items():
        tname = ns.claim(context_type(ctx), f'context "{ctx}"')
        fetch = ns.claim(f"fetch{pascal(ctx)}Context", f'context "{ctx}"')
        lines.append(f'/** Every function of context "{ctx}", by name. */')
        lines.append(f"export type {tname} = {{")
        lines.extend(f"  {json_string(f.name)}: {output_type(f, plan)};" for f in fns)
        lines.append("};")
        lines.append("")
        lines.append(f'/** Context "{ctx}" (hydrated from the page when rendered there). */')
        lines.append(f"export function {fetch}(m: Mizan): Promise<{tname}> {{")
        lines.append(f"  return m.context<{tname}>({json_string(ctx)}).ready();")
        lines.append("}")
        lines.append("")
    for f in callable_functions(doc):
        name = ns.claim("call" + pascal(f.name), f'function "{f.name}"')
        param, sent = args_param(f, plan)
        params = "m: Mizan" + (f", {param}" if param else "")
        out = output_type(f, plan)
        method = "call" if f.transport == "websocket" else "http"
        lines.extend(doc_comment(f.doc))
        lines.append(f"export function {name}({params}): Promise<{out}> {{")
        lines.append(f"  return m.{method}<{out}>({json_string(f.name)}, {sent});")
        lines.append("}")
        lines.append("")
    for c in sorted(doc.channels, key=lambda c: c.name):
        lines.extend(_channel(c, plan, ns))
    lines.extend(_tanstack(doc, plan, ns))
    return lines


def channel_types(c: Channel, plan: Plan) -> tuple[str, str, str]:
    """(params, server message, client message) TypeScript types of channel `c`."""
    client = "T." + plan.name(c.client_message, "in") if c.client_message else "never"
    return "T." + plan.name(c.params, "in"), "T." + plan.name(c.server_message, "out"), client


def _channel(c: Channel, plan: Plan, ns: Namespace) -> list[str]:
    name = ns.claim("subscribe" + pascal(c.name), f'channel "{c.name}"')
    params, msg, client = channel_types(c, plan)
    return [
        *doc_comment(c.doc),
        f"export function {name}(",
        "  m: Mizan,",
        f"  params: {params},",
        f"  handlers: SubscriptionHandlers<{msg}> = {{}},",
        f"): Subscription<{msg}, {client}> {{",
        f"  return m.subscribe<{msg}, {client}>({json_string(c.name)}, params, handlers);",
        "}",
        "",
    ]


def _tanstack(doc: Document, plan: Plan, ns: Namespace) -> list[str]:
    """Query keys and options for TanStack Query, and the invalidation bridge."""
    for ident in ("mizanQueryKey", "connectQueryClient", "QueryClientLike"):
        ns.claim(ident, "the TanStack Query bridge")
    lines = [
        "/** What `connectQueryClient` needs of a TanStack `QueryClient`. */",
        "export interface QueryClientLike {",
        "  invalidateQueries(filters: { queryKey: readonly unknown[] }): Promise<unknown>;",
        "}",
        "",
        "/** TanStack Query key of a function (`fn`, args) or a context (`ctx`, name). */",
        'export function mizanQueryKey(kind: "fn" | "ctx", name: string, args?: object): '
        "readonly unknown[] {",
        '  return args === undefined ? ["mizan", kind, name] : ["mizan", kind, name, args];',
        "}",
        "",
    ]
    queries = [f for f in callable_functions(doc) if is_query(f)]
    for f in queries:
        name = ns.claim(camel(f.name) + "Query", f'function "{f.name}"')
        param, sent = args_param(f, plan)
        params = "m: Mizan" + (f", {param}" if param else "")
        call = "call" + pascal(f.name)
        call_args = "m" + (", args" if sent == "args" else "")
        lines += [
            f"/** TanStack Query options for `{f.name}`. */",
            f"export function {name}({params}) {{",
            "  return {",
            f'    queryKey: mizanQueryKey("fn", {json_string(f.name)}, {sent}),',
            f"    queryFn: () => {call}({call_args}),",
            "  };",
            "}",
            "",
        ]
    fn_keys = [json_string(f.name) for f in queries]
    ctx_of = {f.name: f.context for f in callable_functions(doc) if f.context is not None}
    ctx_pairs = [f"[{json_string(k)}, {json_string(v)}]" for k, v in sorted(ctx_of.items())]
    ctx_names = [json_string(c) for c in contexts(doc)]
    lines += [
        "/** Invalidate TanStack queries when the server says so (and on every resync): every",
        " * query made with `mizanQueryKey` stays as fresh as the built-in hooks. Returns a",
        " * function that disconnects. */",
        "export function connectQueryClient(m: Mizan, client: QueryClientLike): () => void {",
        f"  const fns: readonly string[] = [{', '.join(fn_keys)}];",
        f"  const contextOf = new Map<string, string>([{', '.join(ctx_pairs)}]);",
        f"  const contexts: readonly string[] = [{', '.join(ctx_names)}];",
        "  const offs: (() => void)[] = [];",
        '  const stale = (kind: "fn" | "ctx", name: string) => () => {',
        "    void client.invalidateQueries({ queryKey: mizanQueryKey(kind, name) });",
        "  };",
        '  for (const fn of fns) offs.push(m.onInvalidate({ fn }, stale("fn", fn)));',
        "  for (const [fn, ctx] of contextOf) {",
        '    offs.push(m.onInvalidate({ fn }, stale("ctx", ctx)));',
        "  }",
        '  for (const ctx of contexts) offs.push(m.onInvalidate({ ctx }, stale("ctx", ctx)));',
        "  return () => {",
        "    for (const off of offs) off();",
        "  };",
        "}",
        "",
    ]
    return lines
