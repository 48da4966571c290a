"""The client generator: golden files, byte determinism, collisions, writing and `--check`.

Golden files live in tests/golden/<ir>/; regenerate them after an intended change with
`MIZAN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_codegen.py`. The runtime copies
(mizan.js, mizan.d.ts) are compared with the package's own files instead, so editing the
runtime doesn't churn the goldens.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mizan_channels.codegen import CodegenError, digest, generate, stale, write
from mizan_channels.codegen.__main__ import main
from mizan_channels.codegen.pattern import to_javascript
from mizan_channels.ir import emit, parse
from mizan_channels.ir.model import Document, Function, OptionalOf, Primitive, Struct

GOLDEN = Path(__file__).parent / "golden"
RUNTIME = {"mizan.js", "mizan.d.ts"}
FILES = {"api.ts", "forms.ts", "index.ts", "react.ts", "schemas.ts", "types.ts"} | RUNTIME


def load(name: str) -> Document:
    return parse((GOLDEN / f"{name}.kdl").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["kitchen_sink", "example_chat"])
def test_output_matches_the_golden_files(name: str) -> None:
    files = generate(load(name))
    assert set(files) == FILES
    folder = GOLDEN / name
    if os.environ.get("MIZAN_UPDATE_GOLDEN"):
        write(folder, {k: v for k, v in files.items() if k not in RUNTIME})
    for fname, text in files.items():
        if fname in RUNTIME:
            package = Path(__file__).parents[1] / "mizan_channels/static/mizan_channels" / fname
            assert text == package.read_text(encoding="utf-8")
            continue
        expected = (folder / fname).read_text(encoding="utf-8")
        assert text == expected, f"{folder / fname} is stale: MIZAN_UPDATE_GOLDEN=1 to rewrite"


def _shuffled(doc: Document, seed: int) -> Document:
    rnd = random.Random(seed)

    def mix(items: tuple[object, ...]) -> tuple[object, ...]:
        out = list(items)
        rnd.shuffle(out)
        return tuple(out)

    return replace(
        doc,
        types=mix(doc.types),  # type: ignore[arg-type]
        functions=mix(doc.functions),  # type: ignore[arg-type]
        channels=mix(doc.channels),  # type: ignore[arg-type]
        forms=mix(doc.forms),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("seed", range(5))
def test_declaration_order_does_not_change_a_byte(seed: int) -> None:
    doc = load("kitchen_sink")
    assert generate(_shuffled(doc, seed)) == generate(doc)


def test_the_digest_is_the_sha256_of_the_canonical_ir() -> None:
    doc = load("example_chat")
    text = (GOLDEN / "example_chat.kdl").read_text(encoding="utf-8")
    assert digest(doc) == hashlib.sha256(text.encode()).hexdigest()
    assert f'IR_DIGEST = "{digest(doc)}"' in generate(doc)["api.ts"]


def test_two_declarations_generating_one_name_fail_naming_both() -> None:
    out = Primitive("null")
    doc = Document(functions=(Function("get_user", out), Function("get.user", out)))
    with pytest.raises(CodegenError) as caught:
        generate(doc)
    message = str(caught.value)
    assert 'function "get.user"' in message and 'function "get_user"' in message
    assert "callGetUser" in message


def test_a_type_named_like_a_runtime_export_is_refused() -> None:
    with pytest.raises(CodegenError, match="the browser runtime"):
        generate(Document(types=(Struct("Mizan"),)))


def test_files_are_written_only_when_their_bytes_change(tmp_path: Path) -> None:
    files = generate(load("kitchen_sink"))
    assert sorted(write(tmp_path, files)) == sorted(files)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert write(tmp_path, files) == []
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert stale(tmp_path, files) == ""


def test_check_exits_1_with_a_diff_when_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ir = str(GOLDEN / "kitchen_sink.kdl")
    assert main([ir, "-o", str(tmp_path), "--check"]) == 1
    assert "+++ " in capsys.readouterr().out
    assert main([ir, "-o", str(tmp_path)]) == 0
    assert main([ir, "-o", str(tmp_path), "--check"]) == 0
    (tmp_path / "types.ts").write_text("// edited\n")
    assert main([ir, "-o", str(tmp_path), "--check"]) == 1
    assert "-// edited" in capsys.readouterr().out


def test_a_bad_document_exits_2_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.kdl"
    bad.write_text(
        'mizan version=1\nfunction "f" { output { ref "Missing"; }; transport "http"; }\n'
    )
    assert main([str(bad), "-o", str(tmp_path / "out")]) == 2
    assert "line 2" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_runtime_import_points_imports_elsewhere_and_copies_nothing() -> None:
    files = generate(load("example_chat"), runtime_import="/static/mizan_channels/mizan.js")
    assert not RUNTIME & set(files)
    assert '"./mizan.js"' not in "".join(files.values())
    assert 'from "/static/mizan_channels/mizan.js"' in files["api.ts"]


def test_a_function_returning_none_gets_no_query_hook() -> None:
    """`-> None` is a command (it sends mail, say): a query hook would run it on mount and
    on every resync. A read that may find nothing (`X | None`) keeps its query."""
    files = generate(load("example_chat"))
    assert "useAuthRequestPasswordReset()" in files["react.ts"]
    assert "useAuthRequestPasswordResetQuery" not in files["react.ts"]
    assert "authRequestPasswordResetQuery" not in files["api.ts"]
    kitchen = generate(load("kitchen_sink"))
    assert "useNothingQuery" not in kitchen["react.ts"]
    assert "nothingQuery" not in kitchen["api.ts"]
    maybe = Function(name="maybe", output=OptionalOf(Primitive("str")))
    assert "useMaybeQuery" in generate(Document(functions=(maybe,)))["react.ts"]


def test_patterns_are_translated_only_when_their_meaning_survives() -> None:
    assert to_javascript(r"^[a-z]+\d$") == r"^[a-z]+[\p{Nd}](?:$|(?=\n$))"
    assert to_javascript(r"(?P<word>\w+)") == r"(?<word>[\p{L}\p{M}\p{N}_]+)"
    for unsafe in (r"\bword", r"(?i)abc", r"\Aabc\Z", r"[unclosed"):
        assert to_javascript(unsafe) is None
    assert (
        ".refine(matches("
        not in generate(
            parse(
                'mizan version=1\nstruct "S" {\n'
                '    field "a" { primitive "str" pattern="(?i)x"; }\n}\n'
                'function "f" {\n    input "S"\n    output { primitive "null"; }\n'
                '    transport "http"\n}\n'
            )
        )["schemas.ts"]
    )


def test_the_management_command_generates_from_the_live_registry(tmp_path: Path) -> None:
    call_command("generate_mizan_client", "--out", str(tmp_path))
    assert {p.name for p in tmp_path.iterdir()} == FILES
    from mizan_channels.ir.__main__ import export_text

    assert generate(parse(export_text())) == {
        p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()
    }
    call_command("generate_mizan_client", "--out", str(tmp_path), "--check")
    (tmp_path / "index.ts").write_text("stale\n")
    with pytest.raises(CommandError, match="stale"):
        call_command("generate_mizan_client", "--out", str(tmp_path), "--check")


def test_the_committed_example_chat_ir_is_canonical() -> None:
    text = (GOLDEN / "example_chat.kdl").read_text(encoding="utf-8")
    assert emit(parse(text)) == text
