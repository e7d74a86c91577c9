"""compile's reports agree with each other: dry run and real run, with and without --force,
quiet means quiet in a dry run too; and the files CPython ships broken on purpose are left
out of ``--stdlib``, not reported as failures."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pycache_tool.compile import plan, results
from tests.conftest import cli, cli_json, interpreter_params, run_python, write

TAG = sys.implementation.cache_tag
NUMBERS = re.compile(
    r": (?:would compile|compiled) (\d+) of (\d+) caches \([^)]*\)"
    r"(?:, (\d+) already fresh)?(?:, (\d+) failed)?"
)


def _tree(root: Path, n: int = 5) -> list[Path]:
    return [write(root / f"m{i}.py", f"X = {i}\n") for i in range(n)]


def _numbers(line: str) -> tuple[int, int, int, int]:
    """(compiled, of, fresh, failed) from a summary line."""
    match = NUMBERS.search(line)
    assert match, line
    done, total, fresh, failed = match.groups()
    return int(done), int(total), int(fresh or 0), int(failed or 0)


def test_dry_run_quiet_prints_only_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tree(tmp_path, 30)
    code, out, _ = cli(capsys, "compile", "--dry-run", "-q", str(tmp_path))
    assert code == 0
    assert out == f"{TAG}: would compile 30 of 30 caches (level 0, timestamp)\n"
    code, out, _ = cli(capsys, "compile", "--dry-run", str(tmp_path))
    assert len(out.splitlines()) == 31  # without -q, the plan too


def test_dry_run_and_real_run_say_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "would compile 3 of 2217 … 2214 already fresh" then "compiled 3 of 3" read as two
    different trees: both count the same whole now, and the parts add up to it."""
    sources = _tree(tmp_path)
    assert cli(capsys, "compile", str(tmp_path))[0] == 0
    for source in sources[:2]:
        write(source, "X = 'edited'\n")
    dry = cli(capsys, "compile", "-n", str(tmp_path))[1].splitlines()[0]
    real = cli(capsys, "compile", str(tmp_path))[1].splitlines()[0]
    assert dry == f"{TAG}: would compile 2 of 5 caches (level 0, timestamp), 3 already fresh"
    assert real.startswith(f"{TAG}: compiled 2 of 5 caches (level 0, timestamp), 3 already fresh;")
    # Nothing to do: the same words either way.
    dry = cli(capsys, "compile", "-n", str(tmp_path))[1]
    real = cli(capsys, "compile", str(tmp_path))[1]
    assert (
        dry
        == real
        == f"{TAG}: nothing to compile, 5 of 5 caches already fresh (level 0, timestamp)\n"
    )
    # --force: everything is rewritten, nothing counts as fresh, and the line says why.
    dry = cli(capsys, "compile", "-n", "-f", str(tmp_path))[1].splitlines()[0]
    real = cli(capsys, "compile", "-f", str(tmp_path))[1]
    assert dry == f"{TAG}: would compile 5 of 5 caches (level 0, timestamp, --force)"
    assert real.startswith(f"{TAG}: compiled 5 of 5 caches (level 0, timestamp, --force);")
    # A failure: compiled, fresh and failed add up to the whole, in the text and in JSON.
    write(sources[0], "X = (\n")
    write(sources[1], "X = 'edited again'\n")
    code, out, _ = cli(capsys, "compile", str(tmp_path))
    assert code == 1
    summary = next(line for line in out.splitlines() if line.startswith(f"{TAG}: "))
    done, total, fresh, failed = _numbers(summary)
    assert (done, total, fresh, failed) == (1, 5, 3, 1)
    code, doc = cli_json(capsys, "compile", str(tmp_path))
    target = doc["targets"][0]
    assert target["compiled"] + target["fresh"] + target["failed"] == target["sources"] == 5


def _stdlib(root: Path) -> Path:
    """A standard library of two good modules and the kinds of files CPython ships broken."""
    write(root / "os2.py", "X = 1\n")
    write(root / "test" / "support.py", "Y = 1\n")
    write(root / "test" / "tokenizedata" / "bad_coding.py", "# -*- coding: uft-8 -*-\nX = 1\n")
    write(root / "test" / "badsyntax_future3.py", "from __future__ import rested_snopes\n")
    write(root / "lib2to3" / "tests" / "data" / "py2_test_grammar.py", "print 'hello'\n")
    write(root / "test" / "test_lib2to3" / "data" / "crlf.py", "print 'crlf'\n")
    return root


def test_stdlib_files_broken_on_purpose_are_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``compile --stdlib`` failed (exit 1) on pyenv's 3.11 for the test data CPython ships
    broken, and doctor suggests exactly that command: they are left out, as CPython's own
    install leaves them out, and said so."""
    stdlib = _stdlib(tmp_path / "lib")
    monkeypatch.setattr(plan, "target_dirs", lambda target, timeout=None: ([], str(stdlib)))
    code, out, err = cli(capsys, "compile", "--stdlib", "--python", sys.executable)
    assert code == 0, out + err
    assert out.startswith(
        f"{TAG}: compiled 2 of 2 caches (level 0, timestamp);"
        " 4 standard library files broken on purpose left out; "
    )
    assert "SyntaxError" not in out and "failed" not in out
    assert sorted(p.name for p in stdlib.rglob("*.pyc")) == [f"os2.{TAG}.pyc", f"support.{TAG}.pyc"]
    code, out, _ = cli(capsys, "compile", "--stdlib", "-v", "--python", sys.executable)
    left_out = [line for line in out.splitlines() if line.startswith("  left out   ")]
    assert len(left_out) == 4 and left_out[0].endswith(results.KNOWN_BAD_REASON)
    code, doc = cli_json(capsys, "compile", "--stdlib", "-n", "--python", sys.executable)
    assert len(doc["left_out"]) == 4 and doc["targets"][0]["left_out"] == 4
    # Anything else broken in the standard library is a failure, as anywhere.
    write(stdlib / "mine.py", "X = (\n")
    code, out, _ = cli(capsys, "compile", "--stdlib", "--python", sys.executable)
    assert code == 1 and "mine.py:1:" in out
    # Outside the standard library the names mean nothing: a PATH's badsyntax.py fails.
    write(tmp_path / "proj" / "badsyntax.py", "X = (\n")
    code, out, _ = cli(capsys, "compile", str(tmp_path / "proj"))
    assert code == 1 and "badsyntax.py:1:" in out


@pytest.mark.interpreters
@pytest.mark.parametrize("exe", interpreter_params(["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]))
def test_the_only_stdlib_files_that_do_not_compile_are_known_bad(exe: str) -> None:
    """Each installed CPython compiles its whole standard library in memory (nothing is
    written): what fails is exactly what KNOWN_BAD names, and nothing it names compiles."""
    code = f"""
import os, re, sysconfig, warnings
warnings.simplefilter("ignore")
known = re.compile({plan.KNOWN_BAD.pattern!r})
std = sysconfig.get_paths()["stdlib"]
for d, dirs, files in os.walk(std):
    dirs[:] = [x for x in dirs if x not in ("site-packages", "dist-packages", "__pycache__")]
    for f in files:
        if f.endswith(".py"):
            path = os.path.join(d, f)
            rel = os.path.relpath(path, std)
            try:
                with open(path, "rb") as fh:
                    compile(fh.read(), path, "exec", dont_inherit=True)
                ok = True
            except Exception:
                ok = False
            if ok == bool(known.search(rel)):
                print(("compiles: " if ok else "fails: ") + rel)
"""
    done = run_python(exe, code)
    assert done.returncode == 0, done.stderr
    # lib2to3's test data holds a few files that are valid Python 3 as well: they are left out
    # with the rest of that directory, as CPython's install leaves it out.
    unexpected = [
        line for line in done.stdout.splitlines()
        if not (line.startswith("compiles: ") and "lib2to3" in line)
    ]  # fmt: skip
    assert unexpected == []
