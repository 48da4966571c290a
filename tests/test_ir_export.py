"""`manage.py export_mizan_ir` and `python -m mizan_channels.ir`: export, staleness check for
CI, and validation, on the test project's real registry."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mizan_channels.ir import build_ir, emit, parse

ROOT = Path(__file__).resolve().parent.parent


def export() -> str:
    out = io.StringIO()
    call_command("export_mizan_ir", stdout=out)
    return out.getvalue()


def test_export_prints_the_registry_ir() -> None:
    text = export()
    assert text == emit(build_ir())
    assert text.startswith("mizan version=1\n")
    assert 'function "echo" {' in text
    assert emit(parse(text)) == text


def test_export_writes_the_file_and_check_accepts_it(tmp_path: Path) -> None:
    target = tmp_path / "api.kdl"
    call_command("export_mizan_ir", "-o", str(target), stderr=io.StringIO())
    assert target.read_bytes() == export().encode()
    out = io.StringIO()
    call_command("export_mizan_ir", "--check", str(target), stdout=out)
    assert out.getvalue() == ""


def test_check_fails_on_a_stale_file_and_prints_the_diff(tmp_path: Path) -> None:
    target = tmp_path / "api.kdl"
    target.write_text(export().replace('function "echo" {', 'function "echo_old" {'))
    out = io.StringIO()
    with pytest.raises(CommandError) as err:
        call_command("export_mizan_ir", "--check", str(target), stdout=out)
    assert err.value.returncode == 1
    assert "stale" in str(err.value) and "export_mizan_ir -o" in str(err.value)
    assert '-function "echo_old" {' in out.getvalue()
    assert '+function "echo" {' in out.getvalue()


def test_check_of_a_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(CommandError):
        call_command("export_mizan_ir", "--check", str(tmp_path / "nope.kdl"), stdout=io.StringIO())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "mizan_channels.ir", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export_check_and_validate(tmp_path: Path) -> None:
    target = tmp_path / "api.kdl"
    done = run_cli("export", "--settings", "tests.settings", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_text() == export()
    assert run_cli("check", str(target), "--settings", "tests.settings").returncode == 0
    assert run_cli("validate", str(target)).returncode == 0
    target.write_text(target.read_text() + 'struct "Extra"\n')
    stale = run_cli("check", str(target), "--settings", "tests.settings")
    assert stale.returncode == 1 and '-struct "Extra"' in stale.stdout
    target.write_text("mizan version=1\nbogus 1\n")
    bad = run_cli("validate", str(target))
    assert bad.returncode == 1 and "line 2" in bad.stderr


def test_cli_export_without_settings_says_how() -> None:
    done = run_cli("export")
    assert done.returncode != 0 and "--settings" in done.stderr
