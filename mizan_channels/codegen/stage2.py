"""Stage 2: the React provider and hooks (`react.ts`) and the form hooks (`forms.ts`).

Each generated file is a fixed core (templates/, the same bytes for every IR) followed by
thin typed hooks, one or two per declaration:

* context function `f`       -> `useF()`: its value, SSR-hydrated, fresh until `inv`/`resync`
* context `c`                -> `useCContext()`: every function of the context at once
* any other function `f`     -> `useF()`: `mutate(args)`, resolving after its invalidations
                                have been refetched
* a read (`is_query`: no      -> also `useFQuery(args)`: runs while mounted, refetched on `inv`
  affects, not `-> None`)
* channel `c`                -> `useCChannel(params)`: typed messages, resubscribes, resyncs
* form `f`                   -> `useFForm()`: values, Zod check, Django's field errors

The store is our own (about 2 kB minified, measured in docs/codegen.md), not TanStack
Query; apps that use TanStack Query keep it through `connectQueryClient` in `api.ts`.
"""

from __future__ import annotations

import json
from importlib import resources

from ..ir.model import Default, DefaultJson, DefaultValue, Document, Function
from .names import Namespace, doc_comment, json_string, pascal
from .plan import Plan
from .stage1 import args_param, callable_functions, channel_types, context_type, is_query
from .stage1 import output_type as out_type
from .typescript import literal


def template(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


_REACT_CORE_EXPORTS = (
    "MizanHub",
    "MizanContext",
    "MizanContextProps",
    "useMizanHub",
    "useMizan",
    "ContextResult",
    "useContextValue",
    "useContextData",
    "QueryEntry",
    "QueryResult",
    "useQueryCall",
    "MutationResult",
    "useMutationCall",
    "ChannelOptions",
    "ChannelResult",
    "useChannelSubscription",
    "stableJson",
)
_FORMS_CORE_EXPORTS = (
    "FormFieldInfo",
    "FormInfo",
    "FormErrors",
    "FormResult",
    "errorsFromDetails",
    "FormSpec",
    "useFormState",
)


def _affects(f: Function) -> str:
    keys = [
        f"{{ ctx: {json_string(a.name)} }}"
        if a.kind == "context"
        else f"{{ fn: {json_string(a.name)} }}"
        for a in f.affects
    ]
    return "[" + ", ".join(keys) + "]"


def react(doc: Document, plan: Plan, ns: Namespace) -> list[str]:
    for ident in _REACT_CORE_EXPORTS:
        ns.claim(ident, "the React core")
    fns = callable_functions(doc)
    calls = sorted({"call" + pascal(f.name) for f in fns if f.form is None})
    lines = template("react_core.ts").splitlines()
    body: list[str] = [
        "",
        "// Generated hooks ---------------------------------------------------------------",
        "",
    ]
    contexts: dict[str, list[Function]] = {}
    for f in fns:
        if f.form is not None:
            continue
        hook = "use" + pascal(f.name)
        out = out_type(f, plan)
        if f.context is not None:
            contexts.setdefault(f.context, []).append(f)
            ns.claim(hook, f'function "{f.name}"')
            body += [
                *doc_comment(f.doc or f'`{f.name}` from context "{f.context}".'),
                f"export function {hook}(): ContextResult<{out}> {{",
                f"  return useContextValue<{out}>({json_string(hook + '()')}, "
                f"{json_string(f.context)}, {json_string(f.name)});",
                "}",
                "",
            ]
            continue
        param, _ = args_param(f, plan)
        if not param:
            arg_types, call_args = "[]", "m"
        else:
            decl = param.split(" = ")[0]
            arg_types = "[" + (decl.replace("args:", "args?:") if " = " in param else decl) + "]"
            call_args = "m, ...args"
        call = "call" + pascal(f.name)
        ns.claim(hook, f'function "{f.name}"')
        body += [
            *doc_comment(f.doc or f"Call `{f.name}` on demand."),
            f"export function {hook}(): MutationResult<{arg_types}, {out}> {{",
            f"  return useMutationCall({json_string(hook + '()')}, "
            f"(m: Mizan, ...args: {arg_types}) => {call}({call_args}), {_affects(f)});",
            "}",
            "",
        ]
        if is_query(f):
            qhook = ns.claim(hook + "Query", f'function "{f.name}"')
            qparam = param
            extra = ", " if qparam else ""
            sent = "args" if param else "{}"
            run_args = "m, args" if param else "m"
            body += [
                f"/** `{f.name}` while mounted; refetched when it is invalidated. */",
                f"export function {qhook}({qparam}{extra}options: {{ enabled?: boolean }} = {{}}): "
                f"QueryResult<{out}> {{",
                f"  return useQueryCall<{out}>({json_string(qhook + '()')}, {json_string(f.name)}, "
                f"{sent}, (m) => {call}({run_args}), options.enabled);",
                "}",
                "",
            ]
    for ctx in sorted(contexts):
        hook = ns.claim(f"use{pascal(ctx)}Context", f'context "{ctx}"')
        data = context_type(ctx)
        body += [
            f'/** Every function of context "{ctx}". */',
            f"export function {hook}(): ContextResult<{data}> {{",
            f"  return useContextData<{data}>({json_string(hook + '()')}, {json_string(ctx)});",
            "}",
            "",
        ]
    for c in sorted(doc.channels, key=lambda c: c.name):
        hook = ns.claim(f"use{pascal(c.name)}Channel", f'channel "{c.name}"')
        params, msg, client = channel_types(c, plan)
        types = f"{msg}, {client}"
        if c.presence is not None:
            types += ", T." + plan.name(c.presence, "out")
        body += [
            *doc_comment(c.doc or f'Channel "{c.name}".'),
            f"export function {hook}(params: {params}, options: ChannelOptions<{msg}> = {{}}): "
            f"ChannelResult<{types}> {{",
            f"  return useChannelSubscription<{params}, {types}>("
            f"{json_string(hook + '()')}, {json_string(c.name)}, params, options);",
            "}",
            "",
        ]
    imports = ["IR_DIGEST", *calls]
    imports += [f"type {context_type(c)}" for c in sorted(contexts)]
    head = lines.index('import { IR_DIGEST } from "./api";')
    lines[head] = (
        "import {\n"
        + "".join(f"  {x},\n" for x in sorted(set(imports), key=lambda i: i.split()[-1]))
        + '} from "./api";'
    )
    lines.insert(head + 1, 'import type * as T from "./types";')
    return lines + body


def _initial(d: Default | None) -> str | None:
    if isinstance(d, DefaultValue):
        return literal(d.value)
    if isinstance(d, DefaultJson):
        return json.dumps(json.loads(d.json), sort_keys=True, ensure_ascii=False)
    return None


def forms(doc: Document, plan: Plan, ns: Namespace) -> list[str]:
    for ident in _FORMS_CORE_EXPORTS:
        ns.claim(ident, "the forms core")
    lines = template("forms_core.ts").splitlines()
    fn_names = {f.name for f in doc.functions}
    imports: set[str] = set()
    schemas: set[str] = set()
    body: list[str] = [
        "",
        "// Generated forms -----------------------------------------------------------",
        "",
    ]
    for form in sorted(doc.forms, key=lambda f: f.name):
        p = pascal(form.name)
        submit = f"{form.name}.submit"
        validate = f"{form.name}.validate"
        if submit not in fn_names:
            continue
        submit_fn = next(f for f in doc.functions if f.name == submit)
        values = (
            "T." + plan.name(submit_fn.input, "in") if submit_fn.input else "Record<string, never>"
        )
        out = out_type(submit_fn, plan)
        fields_struct = plan.types.get(form.fields_type)
        required = {f.name: f.default is None for f in getattr(fields_struct, "fields", ())}
        info = ns.claim(f"{p[:1].lower()}{p[1:]}Form", f'form "{form.name}"')
        hook = ns.claim(f"use{p}Form", f'form "{form.name}"')
        spec = f"{info}Spec"
        schema = f"{plan.name(form.fields_type, 'in')}Schema"
        schemas.add(schema)
        imports.add("call" + pascal(submit))
        field_lines = []
        for ff in form.fields:
            choices = ", ".join(f"[{literal(c.value)}, {json_string(c.label)}]" for c in ff.choices)
            field_lines.append(
                "    { "
                f"name: {json_string(ff.name)}, label: {_opt(ff.label)}, help: {_opt(ff.help)}, "
                f"widget: {_opt(ff.widget)}, required: {_bool(required.get(ff.name, False))}, "
                f"disabled: {'true' if ff.disabled else 'false'}, choices: [{choices}], "
                f"dynamicChoices: {'true' if ff.dynamic_choices else 'false'}"
                " },"
            )
        initial = [
            f"{json_string(ff.name)}: {v}"
            for ff in form.fields
            if (v := _initial(ff.initial)) is not None
        ]
        if validate in fn_names:
            imports.add("call" + pascal(validate))
            validator = f"(m, values) => call{pascal(validate)}(m, values)"
        else:
            validator = "async () => ({ valid: true, errors: [] })"
        body += [
            *doc_comment(form.doc or f'What form "{form.name}" shows: labels, widgets, choices.'),
            f"export const {info}: FormInfo = {{",
            f"  name: {json_string(form.name)},",
            f"  title: {_opt(form.title)},",
            f"  submitLabel: {_opt(form.submit_label)},",
            "  fields: [",
            *field_lines,
            "  ],",
            "};",
            "",
            f"const {spec}: FormSpec<{values}, {out}> = {{",
            f"  info: {info},",
            f"  schema: {schema},",
            "  initial: "
            + (f"{{ {', '.join(initial)} }}" if initial else "{}")
            + f" as Partial<{values}>,",
            f"  submit: (m, values) => call{pascal(submit)}(m, values),",
            f"  validate: {validator},",
            "};",
            "",
            f'/** Form "{form.name}": values, browser checks, Django\'s errors, submit. */',
            f"export function {hook}(): FormResult<{values}, {out}> {{",
            f"  return useFormState({json_string(hook + '()')}, {spec});",
            "}",
            "",
        ]
    head = lines.index('import { useMizanHub } from "./react";')
    extra = []
    if imports:
        extra.append(
            "import {\n" + "".join(f"  {x},\n" for x in sorted(imports)) + '} from "./api";'
        )
    if schemas:
        extra.append(
            "import {\n" + "".join(f"  {x},\n" for x in sorted(schemas)) + '} from "./schemas";'
        )
    extra.append('import type * as T from "./types";')
    lines[head + 1 : head + 1] = extra
    return lines + body


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _opt(text: str | None) -> str:
    return "null" if text is None else json_string(text)
