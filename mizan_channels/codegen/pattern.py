"""A server-side regex (Python `re`, or pydantic's Rust `regex`) -> a JavaScript one, or None.

Client-side checks must never be stricter than the server's, so a pattern is translated
only when its meaning survives: `\\d` and `\\w` are Unicode-aware on the server and ASCII
in JavaScript, so they become Unicode property classes (the `u` flag); Python's `$` also
matches before a final newline, so it is widened to allow one; named groups change
spelling. Anything whose meaning we can't vouch for (word boundaries, `\\A`/`\\Z`, inline
flags, conditionals, possessive or atomic groups) returns None and the check is left to the
server. The browser compiles the result lazily and skips it if it still fails to compile.
"""

from __future__ import annotations

_UNSAFE_ESCAPES = set("bBAZzGW")
_GROUP_OK = ("(?:", "(?=", "(?!", "(?<=", "(?<!")
# Unicode-aware replacements, usable inside and outside a character class.
_DIGIT = r"\p{Nd}"
_WORD = r"\p{L}\p{M}\p{N}_"


def to_javascript(pattern: str) -> str | None:
    """The `u`-flag JavaScript source for `pattern`, or None when it can't be trusted."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                return None
            nxt = pattern[i + 1]
            if nxt in _UNSAFE_ESCAPES:
                return None
            if nxt == "d":
                out.append(_DIGIT if in_class else f"[{_DIGIT}]")
            elif nxt == "w":
                out.append(_WORD if in_class else f"[{_WORD}]")
            elif nxt == "D" and not in_class:
                out.append(f"[^{_DIGIT}]")
            elif nxt == "D":
                return None
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            elif ch == "[":
                out.append("\\[")  # a literal `[` in a Python class; `u` mode wants it escaped
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":  # `[]...]`: a literal `]` first in a class
                out.append("\\]")
                i += 1
            continue
        if ch == "(" and pattern.startswith("(?", i):
            if pattern.startswith("(?P<", i):
                out.append("(?<")
                i += 4
                continue
            if pattern.startswith(_GROUP_OK, i):
                out.append("(?")
                i += 2
                continue
            if pattern.startswith("(?<", i):  # (?<name> as in JavaScript
                out.append("(?<")
                i += 3
                continue
            return None  # inline flags, (?P=name), conditionals, atomic groups, comments
        if ch == "$":
            out.append(r"(?:$|(?=\n$))")
            i += 1
            continue
        if ch == "{" and pattern.startswith("{,", i):
            out.append("{0,")
            i += 2
            continue
        out.append(ch)
        i += 1
    if in_class:
        return None
    return "".join(out)
