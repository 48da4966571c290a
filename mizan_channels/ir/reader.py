"""KDL text -> a typed IR `Document`, checked against the grammar in `ir/kdl.py`.

`nodes.NodeReader` reads shapes and named types; this module adds functions, channels and
forms, checks that every name a declaration refers to is declared with the right kind, and
offers `parse()`.
"""

from __future__ import annotations

from typing import Any

from .model import (
    AUTH_KINDS,
    VERSION,
    Affect,
    Alias,
    AuthKind,
    Channel,
    Choice,
    Document,
    Form,
    FormField,
    Function,
    NamedType,
    Struct,
    Transport,
)
from .nodes import DOC_PROPS, FORM_FIELD_PROPS, SCALAR, IRSyntaxError, NodeReader


class _Reader(NodeReader):
    """The declarations: functions, channels, forms, and the document as a whole."""

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
        self.check(node, (1, 1), DOC_PROPS, children=True)
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
        self.check(node, (1, 1), DOC_PROPS, children=True)
        kids = self.singles(node, _CHANNEL_CHILDREN)
        names: dict[str, str] = {}
        for key in ("params", "server-message", "client-message", "presence"):
            if key in kids:
                names[key] = self.string_child(kids[key], "a type name")
                kinds = (Struct,) if key != "server-message" else (Struct, Alias)
                self.ref(
                    kids[key],
                    names[key],
                    kinds,
                    "a struct" if len(kinds) == 1 else "a struct or alias",
                )
            elif key not in ("client-message", "presence"):
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
            presence=names.get("presence"),
        )

    def form(self, node: Any) -> Form:
        self.check(
            node, (1, 1), {**DOC_PROPS, "title": (str,), "submit-label": (str,)}, children=True
        )
        kids = self.singles(node, ("fields", "output", "field"), frozenset({"field"}))
        if "fields" not in kids:
            self.fail(node, "`form` needs a `fields NAME` child naming its struct")
        fields_type = self.string_child(kids["fields"], "a struct name")
        self.ref(kids["fields"], fields_type, (Struct,), "a struct")
        out = None
        if "output" in kids:
            self.check(kids["output"], (0, 0), {}, children=True)
            out = self.shape(self.one_child(kids["output"]))
        field_nodes = [c for c in node.nodes if c.name == "field"]
        items = tuple(self.form_field(c) for c in field_nodes)
        self.unique([f.name for f in items], field_nodes, "form field")
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
        self.check(node, (1, 1), FORM_FIELD_PROPS, children=True)
        choices: list[Choice] = []
        kids = self.singles(node, ("choices",))
        if "choices" in kids:
            self.check(kids["choices"], (0, 0), {}, children=True)
        for child in kids["choices"].nodes if "choices" in kids else ():
            if child.name != "choice":
                self.fail(child, f"`choices` holds only `choice` nodes, got `{child.name}`")
            self.check(child, (2, 2), {})
            self.arg(child, 0, SCALAR, "a JSON scalar value")
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


def _transport(text: str) -> Transport:
    return "websocket" if text == "websocket" else "http"


def _auth(text: str | None) -> AuthKind | None:
    for kind in ("user", "staff", "superuser", "custom"):
        if text == kind:
            return kind  # type: ignore[return-value]
    return None


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
_CHANNEL_CHILDREN = ("params", "server-message", "client-message", "history", "presence")


def parse(text: str) -> Document:
    """Read an IR document. Raises IRSyntaxError with the line, column and what was expected."""
    return _Reader(text).document()


__all__ = ["IRSyntaxError", "parse"]
