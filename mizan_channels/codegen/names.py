"""TypeScript identifiers for IR names, and the one namespace every generated export shares.

`index.ts` re-exports every generated file, so a type, a schema, a call function and a hook
all live in one namespace: two IR declarations that would produce the same identifier must
fail generation, naming both, instead of one silently shadowing the other in a user's
editor. `Namespace.claim` is where that is enforced.
"""

from __future__ import annotations

import re

#: Words TypeScript refuses (or strict mode refuses) as a binding name.
RESERVED = frozenset(
    [
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "new",
        "null",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "implements",
        "interface",
        "let",
        "package",
        "private",
        "protected",
        "public",
        "static",
        "yield",
        "await",
        "any",
        "boolean",
        "never",
        "number",
        "object",
        "string",
        "symbol",
        "undefined",
        "unknown",
        "bigint",
    ]
)
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_WORD = re.compile(r"[A-Za-z0-9]+")


class CodegenError(ValueError):
    """The IR can't be turned into a client as it stands; the message says how to fix it."""


def is_identifier(name: str) -> bool:
    return bool(_IDENT.match(name)) and name not in RESERVED


def pascal(name: str) -> str:
    """`create_room.submit` -> `CreateRoomSubmit`; already-Pascal words keep their inner caps."""
    return "".join(w[0].upper() + w[1:] for w in _WORD.findall(name))


def camel(name: str) -> str:
    p = pascal(name)
    return p[:1].lower() + p[1:]


def prop_key(name: str) -> str:
    """An object key as TypeScript must write it: bare when it can be, else a JSON string."""
    if _IDENT.match(name):
        return name
    return json_string(name)


def json_string(text: str) -> str:
    """A string literal valid in both JSON and TypeScript (and safe inside `<script>`)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch < " " or ch in "\u2028\u2029\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def doc_comment(doc: str | None, indent: str = "") -> list[str]:
    """A JSDoc block for `doc`, with `*/` defused so a docstring can't end the comment."""
    if not doc:
        return []
    lines = doc.replace("*/", "*\\/").splitlines() or [""]
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**", *(f"{indent} * {x}".rstrip() for x in lines), f"{indent} */"]


class Namespace:
    """Every exported identifier and what produced it."""

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    def claim(self, ident: str, source: str) -> str:
        """Reserve `ident` for `source`; raises CodegenError naming both on a clash."""
        if not is_identifier(ident):
            raise CodegenError(
                f"{source} would be exported as {ident!r}, which is not a usable TypeScript "
                "identifier. Rename it on the server (a Python identifier in PascalCase or "
                "snake_case works)."
            )
        owner = self.owners.get(ident)
        if owner is not None and owner != source:
            raise CodegenError(
                f"Name collision: {owner} and {source} both generate the TypeScript export "
                f"{ident!r}. Rename one of them on the server and regenerate."
            )
        self.owners[ident] = source
        return ident
