"""KDL text -> a typed IR `Document`, checked against the grammar in `ir/kdl.py`.

kdl-py does the lexing; this module checks every node, argument and property against the
grammar and says where a document is wrong. Two kdl-py defaults are overridden: bare
numbers would all come back as floats (we read the source text, so `3` stays an int), and
nodes carry no positions (we keep each node's fragment to report line and column).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from kdl.errors import ParseError
from kdl.parsefuncs import parse as kdl_parse
from kdl.parsing import ParseConfig
from kdl.types import Decimal as KdlNumber
from kdl.types import Null as KdlNull

from .model import (
    AUTH_KINDS,
    CONSTRAINT_KEYS,
    NO_CONSTRAINTS,
    PRIMITIVES,
    VERSION,
    Affect,
    Alias,
    AuthKind,
    Channel,
    Choice,
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
    NamedType,
    OptionalOf,
    Primitive,
    Ref,
    Shape,
    Struct,
    Transport,
    TupleOf,
    UnionOf,
)

_INT_LIMITS = {"min-length", "max-length", "max-digits", "decimal-places"}
_STR_LIMITS = {"pattern", "format"}


class IRSyntaxError(ValueError):
    """A document that doesn't follow the grammar; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        self.line, self.column, self.message = line, column, message
        super().__init__(f"line {line}, column {column}: {message}")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    return "a string"


class _Reader:
    def __init__(self, text: str) -> None:
        self.places: dict[int, Any] = {}
        # Every type-name reference, checked once all declarations are known.
        self.refs: list[tuple[str, Any, tuple[type, ...], str]] = []
        config = ParseConfig(
            nativeUntaggedValues=False,
            nativeTaggedValues=False,
            valueConverters={...: self._value},
            nodeConverters={...: self._node},
        )
        try:
            self.doc = kdl_parse(text, config)
        except ParseError as exc:
            detail = str(exc).split("parse error:", 1)[-1].strip()
            raise IRSyntaxError(exc.line, exc.col, f"not valid KDL: {detail}") from None

    # kdl-py hooks -------------------------------------------------------------------------

    def _value(self, val: Any, fragment: Any) -> Any:
        if val.tag is not None:
            raise fragment.error(f"type annotations like ({val.tag}) are not part of the IR")
        if isinstance(val, KdlNumber):
            raw = fragment.fragment.replace("_", "")
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if isinstance(val, KdlNull):
            return None
        return val.value

    def _node(self, node: Any, fragment: Any) -> Any:
        if node.tag is not None:
            raise fragment.error(f"type annotations like ({node.tag}) are not part of the IR")
        self.places[id(node)] = fragment
        return node

    # Checks -------------------------------------------------------------------------------

    def fail(self, node: Any, message: str) -> NoReturn:
        place = self.places[id(node)].error("")
        raise IRSyntaxError(place.line, place.col, message)

    def check(
        self,
        node: Any,
        nargs: tuple[int, int | None],
        props: dict[str, tuple[type, ...]],
        children: bool = False,
    ) -> None:
        low, high = nargs
        n = len(node.args)
        if n < low or (high is not None and n > high):
            want = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            self.fail(node, f"`{node.name}` takes {want} argument(s), got {n}")
        for key, val in node.props.items():
            types = props.get(key)
            if types is None:
                known = ", ".join(props) or "none"
                self.fail(node, f"`{node.name}` has no property `{key}` (known: {known})")
            if not _is_a(val, types):
                self.fail(node, f"`{node.name} {key}=` expects {_names(types)}, got {_kind(val)}")
        if node.nodes and not children:
            self.fail(node, f"`{node.name}` takes no children block")

    def arg(self, node: Any, i: int, types: tuple[type, ...], what: str) -> Any:
        val = node.args[i]
        if not _is_a(val, types):
            self.fail(node, f"`{node.name}` expects {what} as argument {i + 1}, got {_kind(val)}")
        return val

    def name_arg(self, node: Any) -> str:
        self.check_args_min(node)
        name: str = self.arg(node, 0, (str,), "a quoted name")
        return name

    def check_args_min(self, node: Any) -> None:
        if not node.args:
            self.fail(node, f"`{node.name}` needs a quoted name as its first argument")

    def ref(self, node: Any, name: str, kinds: tuple[type, ...], what: str) -> str:
        self.refs.append((name, node, kinds, what))
        return name

    def one_child(self, node: Any) -> Any:
        if len(node.nodes) != 1:
            self.fail(
                node,
                f"`{node.name}` holds exactly one shape in {{ }}, got "
                f"{len(node.nodes)} child node(s)",
            )
        return node.nodes[0]

    # Shapes -------------------------------------------------------------------------------

    def limits(self, node: Any) -> Constraints:
        found = {CONSTRAINT_KEYS[k]: v for k, v in node.props.items() if k in CONSTRAINT_KEYS}
        return Constraints(**found) if found else NO_CONSTRAINTS

    def shape(self, node: Any) -> Shape:
        name = node.name
        if name == "primitive":
            self.check(node, (1, 1), _LIMIT_PROPS)
            kind = self.arg(node, 0, (str,), "a primitive kind")
            if kind not in PRIMITIVES:
                self.fail(
                    node, f"unknown primitive {kind!r}; expected one of {', '.join(PRIMITIVES)}"
                )
            return Primitive(kind, self.limits(node))
        if name == "ref":
            self.check(node, (1, 1), {})
            target = self.arg(node, 0, (str,), "a type name")
            return Ref(
                self.ref(node, target, (Struct, EnumType, Alias), "an alias, enum or struct")
            )
        if name == "list":
            self.check(node, (0, 0), {**_LIMIT_PROPS, "unique": (bool,)}, children=True)
            unique = node.props.get("unique", False)
            if unique is not True and "unique" in node.props:
                self.fail(node, "`list unique=` is written only as `unique=true`")
            return ListOf(self.shape(self.one_child(node)), self.limits(node), unique)
        if name == "tuple":
            self.check(node, (0, 0), {}, children=True)
            return TupleOf(tuple(self.shape(c) for c in node.nodes))
        if name == "map":
            self.check(node, (0, 0), _LIMIT_PROPS, children=True)
            return MapOf(self.shape(self.one_child(node)), self.limits(node))
        if name == "optional":
            self.check(node, (0, 0), {}, children=True)
            return OptionalOf(self.shape(self.one_child(node)))
        if name == "enum":
            self.check(node, (0, None), {})
            return EnumOf(
                tuple(
                    self.arg(node, i, (str, int, bool), "a string, int or bool")
                    for i in range(len(node.args))
                )
            )
        if name == "union":
            self.check(node, (0, 0), {"discriminator": (str,)}, children=True)
            if len(node.nodes) < 2:
                self.fail(node, "`union` needs two or more arms; write a single arm on its own")
            return UnionOf(
                tuple(self.shape(c) for c in node.nodes), node.props.get("discriminator")
            )
        self.fail(
            node,
            f"expected a shape (primitive, ref, list, tuple, map, optional, enum, "
            f"union), got `{name}`",
        )

    # Declarations -------------------------------------------------------------------------

    def default(self, node: Any, scalar: str) -> Default | None:
        json_key = f"{scalar}-json"
        unknown = "has-default" if scalar == "default" else "dynamic-initial"
        keys = [k for k in (scalar, json_key, unknown) if k in node.props]
        if len(keys) > 1:
            self.fail(node, f"`{node.name}` has {' and '.join(keys)}; give at most one")
        if scalar in node.props:
            return DefaultValue(node.props[scalar])
        if json_key in node.props:
            text = node.props[json_key]
            try:
                decoded = json.loads(text)
            except ValueError as exc:
                self.fail(node, f"`{json_key}` holds JSON text, but {exc}")
            if not isinstance(decoded, list | dict):
                self.fail(
                    node,
                    f"`{json_key}` holds a JSON array or object; write a scalar "
                    f"as `{scalar}=` instead",
                )
            return DefaultJson(text)
        if unknown in node.props:
            if node.props[unknown] is not True:
                self.fail(node, f"`{unknown}` is written only as `{unknown}=true`")
            return DefaultUnknown()
        return None

    def field(self, node: Any) -> Field:
        if node.name != "field":
            self.fail(node, f"a struct holds only `field` nodes, got `{node.name}`")
        self.check(node, (1, 1), _FIELD_PROPS, children=True)
        return Field(
            name=self.name_arg(node),
            shape=self.shape(self.one_child(node)),
            default=self.default(node, "default"),
            doc=node.props.get("doc"),
            output_name=node.props.get("output-name"),
        )

    def named(self, node: Any) -> NamedType:
        doc = node.props.get("doc")
        if node.name == "struct":
            self.check(node, (1, 1), _DOC, children=True)
            return Struct(self.name_arg(node), tuple(self.field(c) for c in node.nodes), doc)
        if node.name == "enum":
            self.check(node, (1, None), _DOC)
            values = tuple(
                self.arg(node, i, (str, int, bool), "a string, int or bool")
                for i in range(1, len(node.args))
            )
            return EnumType(self.name_arg(node), values, doc)
        self.check(node, (1, 1), _DOC, children=True)
        return Alias(self.name_arg(node), self.shape(self.one_child(node)), doc)

    def singles(
        self, node: Any, allowed: tuple[str, ...], repeat: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """Children by name (first of each), refusing unknown and repeated ones."""
        seen: dict[str, Any] = {}
        for child in node.nodes:
            if child.name not in allowed:
                self.fail(
                    child,
                    f"`{node.name}` has no child `{child.name}` (known: {', '.join(allowed)})",
                )
            if child.name in seen and child.name not in repeat:
                self.fail(child, f"`{child.name}` appears twice in `{node.name}`")
            seen.setdefault(child.name, child)
        return seen

    def string_child(self, child: Any, what: str) -> str:
        self.check(child, (1, 1), {})
        text: str = self.arg(child, 0, (str,), what)
        return text

    def function(self, node: Any) -> Function:
        self.check(node, (1, 1), _DOC, children=True)
        kids = self.singles(node, _FUNCTION_CHILDREN, frozenset({"affects"}))
        if "transport" not in kids:
            self.fail(node, '`function` needs a `transport "http"` or `transport "websocket"`')
        transport = self.string_child(kids["transport"], '"http" or "websocket"')
        if transport not in ("http", "websocket"):
            self.fail(kids["transport"], f'transport is "http" or "websocket", got {transport!r}')
        affects: list[Affect] = []
        for child in node.nodes:
            if child.name == "affects":
                self.check(child, (0, 0), {"context": (str,), "function": (str,)})
                if len(child.props) != 1:
                    self.fail(child, "`affects` takes exactly one of context=NAME, function=NAME")
                ((kind, target),) = child.props.items()
                affects.append(Affect("context" if kind == "context" else "function", target))
        out = None
        if "output" in kids:
            self.check(kids["output"], (0, 0), {}, children=True)
            out = self.shape(self.one_child(kids["output"]))
        auth = self.string_child(kids["auth"], "an auth kind") if "auth" in kids else None
        if auth is not None and auth not in AUTH_KINDS:
            self.fail(kids["auth"], f"auth is one of {', '.join(AUTH_KINDS)}, got {auth!r}")
        rev = 1
        if "rev" in kids:
            self.check(kids["rev"], (1, 1), {})
            rev = self.arg(kids["rev"], 0, (int,), "an integer > 1")
            if rev <= 1:
                self.fail(kids["rev"], f"`rev` is written only when above 1, got {rev}")
        if "shared" in kids:
            self.check(kids["shared"], (1, 1), {})
            if self.arg(kids["shared"], 0, (bool,), "true") is not True:
                self.fail(kids["shared"], "`shared` is written only as `shared true`")
        text = {
            k: self.string_child(kids[k], "a quoted string")
            for k in ("input", "context", "route", "form")
            if k in kids
        }
        if "input" in text:
            self.ref(kids["input"], text["input"], (Struct,), "a struct")
        return Function(
            name=self.name_arg(node),
            output=out,
            input=text.get("input"),
            transport=_transport(transport),
            context=text.get("context"),
            affects=tuple(affects),
            auth=_auth(auth),
            rev=rev,
            route=text.get("route"),
            shared="shared" in kids,
            form=text.get("form"),
            doc=node.props.get("doc"),
        )

    def channel(self, node: Any) -> Channel:
        self.check(node, (1, 1), _DOC, children=True)
        kids = self.singles(node, _CHANNEL_CHILDREN)
        names: dict[str, str] = {}
        for key in ("params", "server-message", "client-message"):
            if key in kids:
                names[key] = self.string_child(kids[key], "a type name")
                kinds = (Struct,) if key != "server-message" else (Struct, Alias)
                self.ref(
                    kids[key],
                    names[key],
                    kinds,
                    "a struct" if len(kinds) == 1 else "a struct or alias",
                )
            elif key != "client-message":
                self.fail(node, f"`channel` needs a `{key}` child")
        history = 0
        if "history" in kids:
            self.check(kids["history"], (1, 1), {})
            history = self.arg(kids["history"], 0, (int,), "an integer > 0")
            if history <= 0:
                self.fail(kids["history"], f"`history` is written only when above 0, got {history}")
        return Channel(
            self.name_arg(node),
            names["params"],
            names["server-message"],
            names.get("client-message"),
            history,
            node.props.get("doc"),
        )

    def form(self, node: Any) -> Form:
        self.check(node, (1, 1), {**_DOC, "title": (str,), "submit-label": (str,)}, children=True)
        kids = self.singles(node, ("fields", "output", "field"), frozenset({"field"}))
        if "fields" not in kids:
            self.fail(node, "`form` needs a `fields NAME` child naming its struct")
        fields_type = self.string_child(kids["fields"], "a struct name")
        self.ref(kids["fields"], fields_type, (Struct,), "a struct")
        out = None
        if "output" in kids:
            self.check(kids["output"], (0, 0), {}, children=True)
            out = self.shape(self.one_child(kids["output"]))
        items = tuple(self.form_field(c) for c in node.nodes if c.name == "field")
        return Form(
            self.name_arg(node),
            fields_type,
            out,
            node.props.get("title"),
            node.props.get("submit-label"),
            items,
            node.props.get("doc"),
        )

    def form_field(self, node: Any) -> FormField:
        self.check(node, (1, 1), _FORM_FIELD_PROPS, children=True)
        choices: list[Choice] = []
        for child in node.nodes:
            if child.name != "choice":
                self.fail(child, f"a form field holds only `choice` nodes, got `{child.name}`")
            self.check(child, (2, 2), {})
            self.arg(child, 0, _SCALAR, "a JSON scalar value")
            label = self.arg(child, 1, (str,), "a quoted label")
            choices.append(Choice(child.args[0], label))
        for flag in ("dynamic-choices", "disabled"):
            if node.props.get(flag, True) is not True:
                self.fail(node, f"`{flag}` is written only as `{flag}=true`")
        p = node.props
        return FormField(
            self.name_arg(node),
            p.get("label"),
            p.get("help"),
            p.get("widget"),
            self.default(node, "initial"),
            tuple(choices),
            "dynamic-choices" in p,
            "disabled" in p,
        )

    # The document -------------------------------------------------------------------------

    def document(self) -> Document:
        nodes = self.doc.nodes
        if not nodes or nodes[0].name != "mizan":
            if not nodes:
                raise IRSyntaxError(1, 1, "empty document; expected `mizan version=1` first")
            self.fail(nodes[0], f"expected `mizan version={VERSION}` first, got `{nodes[0].name}`")
        self.check(nodes[0], (0, 0), {"version": (int,)})
        if nodes[0].props.get("version") != VERSION:
            self.fail(
                nodes[0],
                f"this parser reads `mizan version={VERSION}`, got "
                f"version={nodes[0].props.get('version')!r}",
            )
        types: dict[str, NamedType] = {}
        sections: dict[str, dict[str, Any]] = {"function": {}, "channel": {}, "form": {}}
        for node in nodes[1:]:
            if node.name in ("struct", "enum", "alias"):
                item: Any = self.named(node)
                space = types
            elif node.name in sections:
                item = getattr(self, node.name)(node)
                space = sections[node.name]
            else:
                self.fail(
                    node,
                    "expected a declaration (alias, channel, enum, form, function, "
                    f"struct), got `{node.name}`",
                )
            if item.name in space:
                self.fail(node, f"{node.name} {item.name!r} is declared twice")
            space[item.name] = item
        for name, node, kinds, what in self.refs:
            if not isinstance(types.get(name), kinds):
                self.fail(node, f"{name!r} should name {what} declared in this document")
        return Document(
            types=tuple(types.values()),
            functions=tuple(sections["function"].values()),
            channels=tuple(sections["channel"].values()),
            forms=tuple(sections["form"].values()),
            version=VERSION,
        )


def _is_a(val: Any, types: tuple[type, ...]) -> bool:
    if isinstance(val, bool):
        return bool in types
    return isinstance(val, types)


def _names(types: tuple[type, ...]) -> str:
    words = {str: "a string", int: "an integer", float: "a float", bool: "true", type(None): "null"}
    return " or ".join(words.get(t, t.__name__) for t in types)


def _transport(text: str) -> Transport:
    return "websocket" if text == "websocket" else "http"


def _auth(text: str | None) -> AuthKind | None:
    for kind in ("user", "staff", "superuser", "custom"):
        if text == kind:
            return kind  # type: ignore[return-value]
    return None


_SCALAR = (str, int, float, bool, type(None))
_NUM = (int, float, str)
_DOC: dict[str, tuple[type, ...]] = {"doc": (str,)}
_LIMIT_PROPS: dict[str, tuple[type, ...]] = {
    k: ((int,) if k in _INT_LIMITS else (str,) if k in _STR_LIMITS else _NUM)
    for k in CONSTRAINT_KEYS
}
_FIELD_PROPS: dict[str, tuple[type, ...]] = {
    "default": _SCALAR,
    "default-json": (str,),
    "has-default": (bool,),
    "output-name": (str,),
    "doc": (str,),
}
_FORM_FIELD_PROPS: dict[str, tuple[type, ...]] = {
    "label": (str,),
    "help": (str,),
    "widget": (str,),
    "initial": _SCALAR,
    "initial-json": (str,),
    "dynamic-initial": (bool,),
    "disabled": (bool,),
    "dynamic-choices": (bool,),
}
_FUNCTION_CHILDREN = (
    "input",
    "output",
    "transport",
    "context",
    "affects",
    "auth",
    "rev",
    "route",
    "shared",
    "form",
)
_CHANNEL_CHILDREN = ("params", "server-message", "client-message", "history")


def parse(text: str) -> Document:
    """Read an IR document. Raises IRSyntaxError with the line, column and what was expected."""
    return _Reader(text).document()
