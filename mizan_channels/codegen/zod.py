"""IR shapes and their limits -> Zod schemas (`schemas.ts`), never stricter than the server.

Schemas use `zod/mini`, the tree-shakable build of Zod 4 (about 5 kB gzipped where the
classic `zod` entry costs about 90 kB: docs/codegen.md). One schema per type a client sends
(function inputs, channel params and client messages, and what they mention), typed
`z.ZodMiniType<T>` so `tsc` proves each schema agrees with its
TypeScript type. A limit becomes a check only when the browser can judge it exactly as the
server does: lengths count code points (Python's `len`), not UTF-16 units; patterns go
through `pattern.to_javascript`; `multiple-of` only on integers (float remainders differ);
string formats other than email are left to the server (Django's URLField, for one, adds a
missing scheme before it validates). Decimal, date and time bounds stay on the server too.

Form field structs get form rules instead (`form_schema`): Django reads every value from a
string, treats "" as empty, and strips text before checking `max_length`.
"""

from __future__ import annotations

from ..ir.model import (
    Constraints,
    EnumOf,
    EnumType,
    Field,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Ref,
    Shape,
    Struct,
    TupleOf,
    UnionOf,
)
from .names import CodegenError, json_string, prop_key
from .pattern import to_javascript
from .plan import Plan
from .typescript import literal

#: Helpers every schemas.ts starts with; the generated schemas call them.
PREAMBLE = """\
/** Length in code points, as the server's `len()` counts (emoji are one, not two). */
const chars = (s: string): number => Array.from(s).length;

/** A server pattern, compiled on first use; one the browser can't compile checks nothing. */
function matches(source: string): (s: string) => boolean {
  let re: RegExp | null | undefined;
  return (s) => {
    if (re === undefined) {
      try {
        re = new RegExp(source, "u");
      } catch {
        re = null;
      }
    }
    return re === null || re.test(s);
  };
}

const EMPTY = (v: unknown): boolean =>
  v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);

/** A form: "" and null are empty (an error only when required), as in Django; errors land
 *  on the field's name. */
function formSchema(
  fields: Record<string, readonly [z.ZodMiniType, boolean]>,
): z.ZodMiniType<Record<string, unknown>> {
  const check = z.superRefine((values: Record<string, unknown>, ctx) => {
    for (const [name, [inner, required]] of Object.entries(fields)) {
      const value = values[name];
      if (EMPTY(value)) {
        const message = "This field is required.";
        if (required) ctx.addIssue({ code: "custom", message, path: [name] });
        continue;
      }
      const result = inner.safeParse(value);
      if (!result.success) {
        for (const issue of result.error.issues) {
          ctx.addIssue({ code: "custom", message: issue.message, path: [name] });
        }
      }
    }
  });
  return z.record(z.string(), z.unknown()).check(check);
}

/** Django reads numbers from strings: "3" is 3 here too; anything else is left as it came. */
const numeric = (v: unknown): unknown =>
  typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;
const formNumber = (inner: z.ZodMiniType): z.ZodMiniType => z.pipe(z.transform(numeric), inner);

/** Django compares choices as strings. */
const formChoice = (allowed: readonly (string | number | boolean)[]): z.ZodMiniType =>
  z.union([z.string(), z.number(), z.boolean()]).check(
    z.refine((v) => allowed.some((a) => String(a) === String(v)), {
      error: "Select a valid choice.",
    }),
  );
"""


def _checked(base: str, checks: list[str]) -> str:
    return f"{base}.check({', '.join(checks)})" if checks else base


def _length_checks(c: Constraints, measure: str, what: str) -> list[str]:
    out: list[str] = []
    for bound, op, word in ((c.min_length, ">=", "At least"), (c.max_length, "<=", "At most")):
        if bound is not None:
            unit = what[:-1] if bound == 1 else what
            message = json_string(f"{word} {bound} {unit}.")
            out.append(f"z.refine((v) => {measure} {op} {bound}, {{ error: {message} }})")
    return out


#: Number bounds: the Zod check, and the message in Django's own words (its validators'
#: "Ensure this value is ..."), so a form shows the same text before and after a submit.
_BOUNDS = (
    ("gt", "gt", "greater than"),
    ("ge", "gte", "greater than or equal to"),
    ("lt", "lt", "less than"),
    ("le", "lte", "less than or equal to"),
)


def _bounds(c: Constraints, integer: bool) -> list[str]:
    out: list[str] = []
    for key, method, words in _BOUNDS:
        bound = getattr(c, key)
        if bound is not None and not isinstance(bound, str):
            message = json_string(f"Ensure this value is {words} {bound!r}.")
            out.append(f"z.{method}({bound!r}, {{ error: {message} }})")
    m = c.multiple_of
    if integer and isinstance(m, int) and not isinstance(m, bool) and m > 0:
        message = json_string(f"Ensure this value is a multiple of step size {m}.")
        out.append(f"z.multipleOf({m}, {{ error: {message} }})")
    return out


def _string(c: Constraints, form: bool) -> str:
    checks = _length_checks(Constraints(min_length=c.min_length), "chars(v)", "characters")
    # Django strips text before checking max_length; the stripped length is never longer.
    max_measure = "chars(v.trim())" if form else "chars(v)"
    checks += _length_checks(Constraints(max_length=c.max_length), max_measure, "characters")
    if c.pattern is not None:
        js = to_javascript(c.pattern)
        if js is not None:
            checks.append(
                f'z.refine(matches({json_string(js)}), {{ error: "Enter a valid value." }})'
            )
    if c.format == "email":
        checks.append('z.refine((v) => v.includes("@"), { error: "Enter a valid email address." })')
    return _checked("z.string()", checks)


def _primitive(p: Primitive, form: bool) -> str:
    c = p.constraints
    if p.kind == "str":
        return _string(c, form)
    if p.kind in ("int", "float"):
        base = "z.int()" if p.kind == "int" else "z.number()"
        inner = _checked(base, _bounds(c, p.kind == "int"))
        return f"formNumber({inner})" if form else inner
    if p.kind == "bool":
        # Django's BooleanField reads "on", "false", "0" ...: only the server decides.
        return "z.union([z.boolean(), z.string()])" if form else "z.boolean()"
    if p.kind == "null":
        return "z.null()"
    if p.kind == "any":
        return "z.unknown()"
    if p.kind == "decimal" and form:
        return "z.union([z.string(), z.number()])"
    if p.kind in ("datetime", "date", "time", "uuid", "decimal", "bytes"):
        return "z.string()"
    raise CodegenError(f"Unknown IR primitive {p.kind!r}: update mizan_channels.")


def _enum(values: tuple[str | int | bool, ...], form: bool) -> str:
    if form:
        return "formChoice([" + ", ".join(literal(v) for v in values) + "])"
    if values and all(isinstance(v, str) for v in values):
        return "z.enum([" + ", ".join(literal(v) for v in values) + "])"
    lits = [f"z.literal({literal(v)})" for v in values]
    if len(lits) == 1:
        return lits[0]
    return "z.union([" + ", ".join(lits) + "])" if lits else "z.never()"


def zod_shape(s: Shape, plan: Plan, form: bool = False) -> str:
    if isinstance(s, Primitive):
        return _primitive(s, form)
    if isinstance(s, Ref):
        return f"z.lazy(() => {schema_name(plan, s.name)})"
    if isinstance(s, ListOf):
        c = s.constraints
        return _checked(
            f"z.array({zod_shape(s.item, plan, form)})", _length_checks(c, "v.length", "items")
        )
    if isinstance(s, TupleOf):
        return "z.tuple([" + ", ".join(zod_shape(x, plan, form) for x in s.items) + "])"
    if isinstance(s, MapOf):
        inner = f"z.record(z.string(), {zod_shape(s.value, plan, form)})"
        return _checked(inner, _length_checks(s.constraints, "Object.keys(v).length", "keys"))
    if isinstance(s, OptionalOf):
        return f"z.nullable({zod_shape(s.inner, plan, form)})"
    if isinstance(s, EnumOf):
        return _enum(s.values, form)
    if isinstance(s, UnionOf):
        return "z.union([" + ", ".join(zod_shape(a, plan, form) for a in s.arms) + "])"
    raise CodegenError(f"Not an IR shape: {s!r}")


def schema_name(plan: Plan, type_name: str) -> str:
    return plan.name(type_name, "in") + "Schema"


def _field(f: Field, plan: Plan) -> str:
    text = zod_shape(f.shape, plan)
    if f.default is not None:
        text = f"z.optional({text})"
    return f"  {prop_key(f.name)}: {text},"


def _form_field(f: Field, plan: Plan) -> str:
    shape = f.shape.inner if isinstance(f.shape, OptionalOf) else f.shape
    inner = zod_shape(shape, plan, form=True)
    required = "true" if f.default is None else "false"
    return f"  {prop_key(f.name)}: [{inner}, {required}],"


def head_of(sname: str, tname: str) -> str:
    # PURE lets a bundler drop a schema nobody imports.
    return f"export const {sname}: z.ZodMiniType<{tname}> = /* @__PURE__ */ "


def declarations(plan: Plan) -> list[str]:
    """One `export const <Type>Schema` per type a client sends, sorted by name."""
    blocks: list[tuple[str, list[str]]] = []
    for name in sorted(plan.inputs):
        t = plan.types[name]
        sname = schema_name(plan, name)
        tname = "T." + plan.name(name, "in")
        if name in plan.form_structs and isinstance(t, Struct):
            body = [
                f"export const {sname} = /* @__PURE__ */ formSchema({{",
                *(_form_field(f, plan) for f in t.fields),
            ]
            body.append("});")
        elif isinstance(t, Struct):
            head = f"export const {sname}: z.ZodMiniType<{tname}> = /* @__PURE__ */ z.object({{"
            body = [head, *(_field(f, plan) for f in t.fields), "});"]
        elif isinstance(t, EnumType):
            body = [f"{head_of(sname, tname)}{_enum(t.values, False)};"]
        else:
            body = [f"{head_of(sname, tname)}{zod_shape(t.shape, plan)};"]
        blocks.append((sname, body))
    blocks.sort(key=lambda b: b[0])
    lines: list[str] = []
    for _, body in blocks:
        lines.extend(body)
        lines.append("")
    return lines
