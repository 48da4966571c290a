"""Mizan IR <-> KDL text: `emit(document) -> str` and `parse(text) -> Document`.

This docstring is the LOCKED GRAMMAR of the Mizan IR, version 1. A change to it is a change
to the contract generators read; extensions are added here, never smuggled through.

Lexical rules (KDL 1.0, as kdl-py reads it)
-------------------------------------------
* UTF-8, `\\n` line ends, 4-space indentation, one trailing newline, no comments, no tags.
* Every string is double-quoted; `\\`, `"`, and control characters are escaped (`\\n`, `\\t`,
  `\\u{85}` ...), so a value never spans lines.
* Integers are written without `.` or exponent and read back as ints; floats are written
  with Python's shortest round-trip `repr` (always holding `.` or `e`) and read back as
  floats. Booleans are `true`/`false`, the JSON null is `null`.
* Node names and property keys are bare identifiers; property order is fixed (as listed).

Document
--------
    mizan version=1                        first node, always
    DECLARATION*                           sorted by (keyword, name): alias, channel, enum,
                                           form, function, struct; names unique per
                                           keyword, and alias/enum/struct share one space

Named types
-----------
    struct NAME [doc=STR] [{ FIELD* }]     fields in declared order; no block when empty
    FIELD := field NAME [DEFAULT] [output-name=STR] [write-only=true] [doc=STR] { SHAPE; }
        NAME is the key a client sends (validation alias applied). `output-name` appears
        only when the server writes the field under another key, `write-only` only when it
        never writes it (`Field(exclude=True)`), both only on structs that travel both ways.
        DEFAULT is one of: `default=SCALAR` (a JSON scalar; `default=null` is a default),
        `default-json=STR` (a JSON array or object, compact, keys sorted), or
        `has-default=true` (a factory computes it at run time). A field with none of the
        three is required.
    enum NAME VALUE* [doc=STR]             from an Enum class; VALUE is a string, int or bool
    alias NAME [doc=STR] { SHAPE; }        named shape: `-> list[T]` outputs, RootModels,
                                           channels with several message models, `type X =`
                                           aliases and NewTypes (inlined where a use adds
                                           limits, since a ref carries none)

Shapes (written on one line; every child inside `{ }` ends with `;`)
-------------------------------------------------------------------
    primitive KIND [LIMITS]                KIND: str int float bool datetime date time
                                           uuid decimal bytes any null
    ref NAME                               an alias, enum or struct of this document
    list [unique=true] [LIMITS] { SHAPE; } JSON array; `unique` for Python sets
    tuple [{ SHAPE; ... }]                 fixed-length array, one shape per position
    map [LIMITS] { SHAPE; }                JSON object with string keys
    optional { SHAPE; }                    may be null
    enum VALUE*                            one of these literals (`Literal[...]`)
    union [discriminator=STR] { SHAPE; SHAPE; ... }   two or more arms, declared order;
                                           STR is the tag field's NAME in the arm structs
    LIMITS := [min-length=INT] [max-length=INT] [pattern=STR] [gt=NUM] [ge=NUM] [lt=NUM]
              [le=NUM] [multiple-of=NUM] [max-digits=INT] [decimal-places=INT] [format=STR]
        NUM is an int or float, or a string for decimal/date bounds. Only `primitive`,
        `list` and `map` carry limits; limits on a ref or union are enforced by the server
        alone. `format` names a string format: email url uuid duration ipv4 ipv6 ...

Functions, channels, forms
--------------------------
    function NAME [doc=STR] {
        input NAME                         struct of the arguments; absent when none
        output { SHAPE; }                  absent for route (view) functions
        transport "http" | "websocket"     always written
        context NAME                       context functions only
        affects context=NAME               one node per affected key, declared order;
        affects function=NAME                  exactly one of the two properties
        auth "user" | "staff" | "superuser" | "custom"      absent = public
        rev INT                            absent = 1; written only when > 1
        route STR                          view-path functions only
        shared true                        invalidations reach every socket; absent = false
        form NAME                          generated from that form (`contact.submit`)
    }
    channel NAME [doc=STR] {
        params NAME                        struct a subscriber sends
        server-message NAME                struct or alias the server pushes
        client-message NAME                struct clients may send; absent when they can't
        history INT                        messages kept for replay; absent = 0
        presence NAME                      struct of each connection's presence metadata;
                                               absent = the channel has no presence
    }
    form NAME [title=STR] [submit-label=STR] [doc=STR] {
        fields NAME                        struct of the form's fields, with limits
        output { SHAPE; }                  what a successful submit returns
        FORM-FIELD*                        in form order
    }
    FORM-FIELD := field NAME [label=STR] [help=STR] [widget=STR] [INITIAL] [disabled=true]
                  [dynamic-choices=true] [{ choices { choice VALUE LABEL; ... }; }]
        INITIAL is `initial=SCALAR`, `initial-json=STR`, or `dynamic-initial=true` (a
        callable gives it per request); `dynamic-choices` marks choices loaded at run time
        (model choice fields, callables); each `choice` gives a JSON scalar value, then its
        label. A field's type and limits live in the `fields` struct under the same name;
        a field that is not required is `optional` there, with `default=null`.

Children of function, channel and form blocks are written in the order listed. The parser
accepts them in any order, but refuses unknown nodes or properties, a repeated single node,
a field name given twice in one struct or form, a value of the wrong type, and a NAME that
no declaration of the right kind defines, reporting the line and column and what was
expected.

Departures from the design sketch (shared/design/ir.md), and why: `tuple`, `unique`,
`output-name`, `has-default`, `shared`, `history` and `presence` are additions the registry needs
said; booleans are KDL 1.0's `true` (kdl-py reads KDL 1.0); channel message types are named
after the channel so every channel's nested `Params` gets its own name.
"""

from __future__ import annotations

from .model import (
    Alias,
    Channel,
    Constraints,
    Default,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    Document,
    EnumOf,
    EnumType,
    Field,
    Form,
    FormField,
    Function,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Ref,
    Scalar,
    Shape,
    Struct,
    TupleOf,
    UnionOf,
)
from .reader import IRSyntaxError, parse

INDENT = "    "
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
#: Characters KDL treats as newlines or that editors hide; escaped so a line stays a line.
_ALWAYS_ESCAPE = {"\x85", "\u2028", "\u2029", "\ufeff", "\x7f"}


def quote(text: str) -> str:
    out = ['"']
    for ch in text:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " " or ch in _ALWAYS_ESCAPE:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def value(v: Scalar) -> str:
    """A JSON scalar as a KDL value whose type survives the round trip."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        if text in ("inf", "-inf", "nan"):
            raise ValueError(f"{v!r} has no KDL or JSON form; use a finite number.")
        return text
    return quote(v)


def _props(pairs: list[tuple[str, Scalar]]) -> str:
    return "".join(f" {k}={value(v)}" for k, v in pairs)


def _limits(c: Constraints) -> list[tuple[str, Scalar]]:
    return list(c.items())


def _block(children: list[str]) -> str:
    return " { " + "".join(f"{c}; " for c in children) + "}" if children else ""


def shape(s: Shape) -> str:
    """One shape, inline."""
    if isinstance(s, Primitive):
        return f"primitive {quote(s.kind)}{_props(_limits(s.constraints))}"
    if isinstance(s, Ref):
        return f"ref {quote(s.name)}"
    if isinstance(s, ListOf):
        flags: list[tuple[str, Scalar]] = [("unique", True)] if s.unique else []
        return f"list{_props(flags + _limits(s.constraints))}{_block([shape(s.item)])}"
    if isinstance(s, TupleOf):
        return "tuple" + _block([shape(x) for x in s.items])
    if isinstance(s, MapOf):
        return f"map{_props(_limits(s.constraints))}{_block([shape(s.value)])}"
    if isinstance(s, OptionalOf):
        return "optional" + _block([shape(s.inner)])
    if isinstance(s, EnumOf):
        return "enum" + "".join(f" {value(v)}" for v in s.values)
    if isinstance(s, UnionOf):
        disc: list[tuple[str, Scalar]] = (
            [("discriminator", s.discriminator)] if s.discriminator is not None else []
        )
        return f"union{_props(disc)}{_block([shape(a) for a in s.arms])}"
    raise TypeError(f"Not an IR shape: {s!r}")


def _default(d: Default | None, scalar: str) -> list[tuple[str, Scalar]]:
    if d is None:
        return []
    if isinstance(d, DefaultValue):
        return [(scalar, d.value)]
    if isinstance(d, DefaultJson):
        return [(f"{scalar}-json", d.json)]
    if isinstance(d, DefaultUnknown):
        return [("has-default" if scalar == "default" else "dynamic-initial", True)]
    raise TypeError(f"Not an IR default: {d!r}")


def _doc(doc: str | None) -> list[tuple[str, Scalar]]:
    return [("doc", doc)] if doc is not None else []


def _field(f: Field) -> str:
    props = _default(f.default, "default")
    if f.output_name is not None:
        props.append(("output-name", f.output_name))
    if f.write_only:
        props.append(("write-only", True))
    return f"field {quote(f.name)}{_props(props + _doc(f.doc))}{_block([shape(f.shape)])}"


def _decl(head: str, children: list[str]) -> list[str]:
    if not children:
        return [head]
    return [head + " {", *(INDENT + c for c in children), "}"]


def _struct(t: Struct) -> list[str]:
    return _decl(f"struct {quote(t.name)}{_props(_doc(t.doc))}", [_field(f) for f in t.fields])


def _function(f: Function) -> list[str]:
    kids: list[str] = []
    if f.input is not None:
        kids.append(f"input {quote(f.input)}")
    if f.output is not None:
        kids.append("output" + _block([shape(f.output)]))
    kids.append(f"transport {quote(f.transport)}")
    if f.context is not None:
        kids.append(f"context {quote(f.context)}")
    kids.extend(f"affects {a.kind}={quote(a.name)}" for a in f.affects)
    if f.auth is not None:
        kids.append(f"auth {quote(f.auth)}")
    if f.rev != 1:
        kids.append(f"rev {value(f.rev)}")
    if f.route is not None:
        kids.append(f"route {quote(f.route)}")
    if f.shared:
        kids.append("shared true")
    if f.form is not None:
        kids.append(f"form {quote(f.form)}")
    return _decl(f"function {quote(f.name)}{_props(_doc(f.doc))}", kids)


def _channel(c: Channel) -> list[str]:
    kids = [f"params {quote(c.params)}", f"server-message {quote(c.server_message)}"]
    if c.client_message is not None:
        kids.append(f"client-message {quote(c.client_message)}")
    if c.history:
        kids.append(f"history {value(c.history)}")
    if c.presence is not None:
        kids.append(f"presence {quote(c.presence)}")
    return _decl(f"channel {quote(c.name)}{_props(_doc(c.doc))}", kids)


def _form_field(f: FormField) -> str:
    props: list[tuple[str, Scalar]] = []
    for key, v in (("label", f.label), ("help", f.help), ("widget", f.widget)):
        if v is not None:
            props.append((key, v))
    props += _default(f.initial, "initial")
    if f.disabled:
        props.append(("disabled", True))
    if f.dynamic_choices:
        props.append(("dynamic-choices", True))
    choices = [f"choice {value(c.value)} {quote(c.label)}" for c in f.choices]
    kids = ["choices" + _block(choices)] if choices else []
    return f"field {quote(f.name)}{_props(props)}{_block(kids)}"


def _form(f: Form) -> list[str]:
    props: list[tuple[str, Scalar]] = []
    if f.title is not None:
        props.append(("title", f.title))
    if f.submit_label is not None:
        props.append(("submit-label", f.submit_label))
    kids = [f"fields {quote(f.fields_type)}"]
    if f.output is not None:
        kids.append("output" + _block([shape(f.output)]))
    kids.extend(_form_field(x) for x in f.fields)
    return _decl(f"form {quote(f.name)}{_props(props + _doc(f.doc))}", kids)


def _named(t: Struct | EnumType | Alias) -> tuple[str, list[str]]:
    if isinstance(t, Struct):
        return "struct", _struct(t)
    if isinstance(t, EnumType):
        head = "enum " + quote(t.name) + "".join(f" {value(v)}" for v in t.values)
        return "enum", [head + _props(_doc(t.doc))]
    return "alias", [f"alias {quote(t.name)}{_props(_doc(t.doc))}{_block([shape(t.shape)])}"]


def emit(doc: Document) -> str:
    """The document as KDL text: same document, same bytes (declarations sorted)."""
    decls: list[tuple[str, str, list[str]]] = []
    for t in doc.types:
        kind, lines = _named(t)
        decls.append((kind, t.name, lines))
    decls.extend(("function", f.name, _function(f)) for f in doc.functions)
    decls.extend(("channel", c.name, _channel(c)) for c in doc.channels)
    decls.extend(("form", f.name, _form(f)) for f in doc.forms)
    decls.sort(key=lambda d: (d[0], d[1]))
    lines = [f"mizan version={value(doc.version)}"]
    for _, _, body in decls:
        lines.extend(body)
    return "\n".join(lines) + "\n"


__all__ = ["IRSyntaxError", "emit", "parse", "quote", "shape", "value"]
