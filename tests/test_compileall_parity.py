"""compileall's command line, side by side: each option of ``python -m compileall`` that
pycache-tool has an equivalent of is run on one copy of a tree, ours on another, with the same
interpreter, and what they write (or print) is compared.

compileall is run as a Dockerfile runs it; the tool is run in-process with ``--python`` naming
the same interpreter, or as a process where its standard streams matter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import cli, interpreter_params, run_python, write

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "compile.md"

TREE = {
    "app.py": "import lib.a\n",
    "other.py": "X = 1\n",
    "gen.py": "GENERATED = True\n",  # left out by .gitignore: named on purpose, still compiled
    ".gitignore": "gen.py\n",
    "my mod.py": "Y = 2\n",
    "lib/__init__.py": "",
    "lib/a.py": "def f(x):\n    assert x\n    return x\n",
    "lib/doc.py": '"""Doc."""\ndef g(x):\n    """More doc."""\n    assert x\n',
    "lib/plain.py": "Z = [1, 2, 3]\n",
    "lib/sub/__init__.py": "",
    "lib/sub/b.py": "B = 'b'\n",
    "lib/sub/deep/c.py": "C = 'c'\n",
    "lib/sub/deep/er/d.py": "D = 'd'\n",
}
WARNINGS = {
    "warn.py": 'x = 1 is 1\ns = "\\d"\n',
    "pkg/w.py": "def f(y):\n    return y is ()\n",
}


def make(root: Path, files: dict[str, str] = TREE) -> Path:
    for rel, text in files.items():
        write(root / rel, text)
    return root


def twins(tmp_path: Path, files: dict[str, str] = TREE) -> tuple[Path, Path]:
    """Two copies of the same tree: ours, and compileall's."""
    return make(tmp_path / "ours", files), make(tmp_path / "theirs", files)


def compileall(
    exe: str, *args: str, cwd: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # py_compile writes whatever PYTHONDONTWRITEBYTECODE says; compileall's own imports do not.
    full_env.update(PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.run(
        [exe, "-m", "compileall", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def ours(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    exe: str,
    *args: str,
    cwd: Path,
) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    return cli(capsys, "compile", "--python", exe, *args)


def tool(
    *args: str, cwd: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The tool as a process of its own: its standard streams are the real ones."""
    return subprocess.run(
        [sys.executable, "-m", "pycache_tool", *args],
        cwd=cwd,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def written(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.pyc")}


def by_inode(root: Path) -> set[frozenset[str]]:
    """The cache files grouped by the file they are: names that are links to one inode."""
    groups: dict[int, set[str]] = {}
    for path in root.rglob("*.pyc"):
        groups.setdefault(path.stat().st_ino, set()).add(str(path.relative_to(root)))
    return {frozenset(g) for g in groups.values()}


def warning_lines(text: str) -> set[str]:
    """The first line of each warning Python's warnings module shows: ``FILE:LINE: Category: message``."""
    return {line for line in text.splitlines() if re.match(r"^\S.*:\d+: \w+Warning: ", line)}


def compileall_errors(out: str) -> dict[str, str]:
    """compileall -q's errors: the file of each ``*** Error compiling 'FILE'...`` block, and the
    block's last line (``SyntaxError: message``)."""
    found = {}
    for block in out.split("*** Error compiling ")[1:]:
        name = re.match(r"'(.*)'\.\.\.", block)
        assert name is not None, block
        found[name.group(1)] = [line for line in block.splitlines() if line.strip()][-1]
    return found


def our_errors(out: str) -> dict[str, str]:
    """Our ``FILE[:LINE[:COL]]: message`` lines, by file."""
    found = {}
    for line in out.splitlines():
        match = re.match(r"^(.*?\.py)(?::\d+)*: (\w+Error: .*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


Both = Callable[..., tuple[Path, Path]]


@pytest.fixture
def both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Both:
    """``both(theirs, mine)``: ``compileall THEIRS`` on one copy of the tree and ``compile
    MINE`` on another, with the same interpreter (``exe``); both must succeed. Returns the two
    copies, ours first. ``files``: the tree; ``env``: for both."""

    def run(
        theirs: list[str],
        mine: list[str],
        *,
        exe: str = sys.executable,
        files: dict[str, str] = TREE,
        **env: str,
    ) -> tuple[Path, Path]:
        ours_root, theirs_root = twins(tmp_path, files)
        done = compileall(exe, "-q", *theirs, cwd=theirs_root, **env)
        assert done.returncode == 0, done.stdout + done.stderr
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code, out, err = ours(capsys, monkeypatch, exe, *mine, cwd=ours_root)
        assert code == 0, out + err
        return ours_root, theirs_root

    return run


# --- PATHS: files and directories -------------------------------------------------------


@pytest.mark.parametrize("exe", interpreter_params(["3.9", "3.13"]))
def test_files_and_directories_as_paths(
    exe: str, both: Both, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``compile app.py gen.py lib/`` writes what ``compileall app.py gen.py lib/`` writes: the
    named files (one the .gitignore leaves out included) and the directory, nothing else."""
    args = ["app.py", "gen.py", "my mod.py", "lib/"]
    mine, theirs = both(args, args, exe=exe)
    assert written(mine) == written(theirs)
    top = {name.split(".")[0] for name in written(mine) if name.startswith("__pycache__/")}
    assert top == {"__pycache__/app", "__pycache__/gen", "__pycache__/my mod"}  # not other.py
    # A second run finds them fresh, and a file that is not Python is a usage error.
    assert ours(capsys, monkeypatch, exe, *args, cwd=mine)[1].count("nothing to compile") == 1
    code, _, err = ours(capsys, monkeypatch, exe, ".gitignore", cwd=mine)
    assert (code, err) == (
        2,
        "pycache-tool: error: .gitignore: neither a directory nor a .py file\n",
    )


def test_named_files_obey_exclude_as_compileall_obeys_x(both: Both) -> None:
    """--exclude takes file patterns, and they apply to named files too, as -x does."""
    mine, theirs = both(
        ["-x", r"(^|/)(plain|other)\.py$", "other.py", "lib"],
        ["--exclude", "plain.py", "--exclude", "/other.py", "other.py", "lib"],
    )
    assert written(mine) == written(theirs)
    assert not any("plain" in name or "other" in name for name in written(mine))


# --- --max-depth: -r N and -l ------------------------------------------------------------


@pytest.mark.parametrize(
    ("theirs_args", "our_args"),
    [
        (["-l"], ["--max-depth", "0"]),
        (["-r", "0"], ["--max-depth", "0"]),
        (["-r", "1"], ["--max-depth", "1"]),
        (["-r", "2"], ["--max-depth", "2"]),
        ([], []),
    ],
    ids=["l", "r0", "r1", "r2", "unlimited"],
)
def test_max_depth_is_compileall_r(theirs_args: list[str], our_args: list[str], both: Both) -> None:
    mine, theirs = both([*theirs_args, "lib"], [*our_args, "lib"])
    assert written(mine) == written(theirs)


def test_max_depth_applies_to_the_pycache_prefix_tree_too(both: Both, tmp_path: Path) -> None:
    """With a pycache_prefix the same directories are compiled, mirrored, as compileall does
    under PYTHONPYCACHEPREFIX."""
    prefix = tmp_path / "prefix"
    mine, theirs = both(
        ["-r", "1", "lib"], ["--max-depth", "1", "lib"], PYTHONPYCACHEPREFIX=str(prefix)
    )
    assert written(mine) == written(theirs) == set()
    mirrored = written(prefix / str(mine).lstrip(os.sep))
    assert mirrored == written(prefix / str(theirs).lstrip(os.sep))
    tag = sys.implementation.cache_tag
    assert {name.replace(f".{tag}.pyc", "") for name in mirrored} == {
        "lib/__init__",
        "lib/a",
        "lib/doc",
        "lib/plain",
        "lib/sub/__init__",
        "lib/sub/b",
    }


# --- --from-file: -i ---------------------------------------------------------------------


def test_from_file_is_compileall_i(both: Both) -> None:
    files = {**TREE, "list.txt": "app.py\nmy mod.py\r\n\nlib/sub\n"}
    mine, theirs = both(
        ["-i", "list.txt", "other.py"], ["--from-file", "list.txt", "other.py"], files=files
    )
    assert written(mine) == written(theirs)
    assert "lib/sub/deep/er/__pycache__" in " ".join(written(mine))


def test_from_file_reads_standard_input_as_compileall_i_dash(tmp_path: Path) -> None:
    exe = sys.executable
    mine, theirs = twins(tmp_path)
    listing = "app.py\nlib/sub/deep\n"
    assert compileall(exe, "-q", "-i", "-", cwd=theirs, stdin=listing).returncode == 0
    done = tool("compile", "--python", exe, "--from-file", "-", cwd=mine, stdin=listing)
    assert done.returncode == 0, done.stdout + done.stderr
    assert written(mine) == written(theirs) != set()
    # An empty list compiles nothing (not the current directory); a missing one is a usage error.
    done = tool("compile", "--from-file", "-", cwd=mine, stdin="")
    assert (done.returncode, done.stderr) == (0, "")
    assert "nothing to compile, 0 of 0" in done.stdout
    done = tool("compile", "--from-file", "absent.txt", cwd=mine)
    assert (done.returncode, done.stderr) == (
        2,
        "pycache-tool: error: --from-file absent.txt: No such file or directory\n",
    )


def test_from_file_keeps_spaces_and_bytes_that_are_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line is a name as it is, but for its line end: a trailing space is part of it (compileall
    strips it), and bytes that are not UTF-8 are the file name's bytes (compileall 3.13 fails
    to read such a list)."""
    root = tmp_path / "ours"
    root.mkdir()
    latin = os.fsdecode(b"caf\xe9.py")
    for name in (latin, "spaced .py"):
        write(root / name, "X = 1\n")
    (root / "list.txt").write_bytes(b"caf\xe9.py\nspaced .py\r\n")
    code, out, err = ours(capsys, monkeypatch, sys.executable, "--from-file", "list.txt", cwd=root)
    assert code == 0 and "compiled 2 of 2" in out, out + err
    tag = sys.implementation.cache_tag
    assert {p.name for p in (root / "__pycache__").iterdir()} == {
        f"caf\udce9.{tag}.pyc",
        f"spaced .{tag}.pyc",
    }


# --- --hardlink-dupes ---------------------------------------------------------------------


@pytest.mark.parametrize("exe", interpreter_params(["3.9", "3.13"]))
def test_hardlink_dupes_links_what_compileall_links(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Levels whose caches are the same bytes are one file: the same groups of links as
    compileall --hardlink-dupes makes, and the caches load as the interpreter's -O/-OO."""
    mine, theirs = twins(tmp_path)
    levels = ["0", "1", "2"]
    done = compileall(
        exe, "-q", *[a for lv in levels for a in ("-o", lv)], "--hardlink-dupes", "lib", cwd=theirs
    )
    assert done.returncode == 0, done.stdout + done.stderr
    args = [a for lv in levels for a in ("-O", lv)]
    code, out, err = ours(
        capsys, monkeypatch, exe, *args, "--hardlink-dupes", "-j", "2", "lib", cwd=mine
    )
    assert code == 0, out + err
    assert by_inode(mine) == by_inode(theirs)
    assert any(len(group) == 3 for group in by_inode(mine))  # plain.py: one file, three names
    assert any(len(group) == 1 for group in by_inode(mine))  # doc.py's levels all differ
    for flag in ("-O", "-OO"):
        trace = run_python(
            exe,
            "import lib.a, lib.doc, lib.plain",
            cwd=mine,
            args=[flag, "-v"],
            env={"PYTHONDONTWRITEBYTECODE": ""},
        )
        assert (
            trace.returncode == 0
            and "# wrote" not in trace.stderr
            and "code object from '" in trace.stderr
        )


def test_hardlink_dupes_links_to_a_level_already_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Level 0 fresh from an earlier run, level 1 missing: the new cache becomes a link to the
    old one when its bytes are the same."""
    exe = sys.executable
    mine = make(tmp_path / "ours")
    assert ours(capsys, monkeypatch, exe, "-O", "0", "lib", cwd=mine)[0] == 0
    code, out, err = ours(
        capsys, monkeypatch, exe, "-O", "0", "-O", "1", "--hardlink-dupes", "lib", cwd=mine
    )
    assert code == 0 and "compiled 8 of 16 caches" in out and "8 already fresh" in out, out + err
    tag = sys.implementation.cache_tag
    cache = mine / "lib" / "__pycache__"
    assert (cache / f"plain.{tag}.pyc").stat().st_ino == (
        cache / f"plain.{tag}.opt-1.pyc"
    ).stat().st_ino
    assert (cache / f"a.{tag}.pyc").stat().st_ino != (cache / f"a.{tag}.opt-1.pyc").stat().st_ino


def test_hardlink_dupes_never_links_through_a_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache of another level that is a symlink to a file outside the tree, with the very
    bytes this level compiles to, is never linked to: the new cache is a file of its own, and
    the file outside keeps its one link."""
    exe = sys.executable
    mine = make(tmp_path / "ours", {"plain.py": "Z = 1\n"})
    tag = sys.implementation.cache_tag
    assert ours(capsys, monkeypatch, exe, "-O", "0", "plain.py", cwd=mine)[0] == 0
    outside = tmp_path / "outside.pyc"
    level0 = mine / "__pycache__" / f"plain.{tag}.pyc"
    level0.rename(outside)
    level0.symlink_to(outside)
    code, out, err = ours(
        capsys, monkeypatch, exe, "-O", "0", "-O", "1", "--hardlink-dupes", "plain.py", cwd=mine
    )
    assert code == 0, out + err
    level1 = mine / "__pycache__" / f"plain.{tag}.opt-1.pyc"
    assert level1.read_bytes() == outside.read_bytes()  # the same bytes: a link was tempting
    assert not level1.is_symlink() and level1.stat().st_nlink == 1
    assert outside.stat().st_nlink == 1 and level0.is_symlink()


def test_hardlink_dupes_needs_two_levels_as_in_compileall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = sys.executable
    mine, theirs = twins(tmp_path)
    assert compileall(exe, "-o", "1", "--hardlink-dupes", "lib", cwd=theirs).returncode == 2
    code, _, err = ours(capsys, monkeypatch, exe, "-O", "1", "--hardlink-dupes", "lib", cwd=mine)
    assert code == 2 and "--hardlink-dupes needs two -O levels" in err
    assert written(mine) == written(theirs) == set()


# --- compiler warnings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "exe", interpreter_params(["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"])
)
def test_compiler_warnings_are_shown_as_compileall_shows_them(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SyntaxWarnings and the compiler's DeprecationWarnings, on stderr as
    ``FILE:LINE: Category: message`` (compileall's, with every warning shown: before 3.12 Python
    hides a DeprecationWarning unless asked), once per source and line whatever the levels;
    ``-q`` hides them; JSON lists them."""
    mine, theirs = twins(tmp_path, WARNINGS)
    done = compileall(exe, "-q", "warn.py", "pkg", cwd=theirs, PYTHONWARNINGS="always")
    theirs_warned = warning_lines(done.stderr)
    assert done.returncode == 0 and len(theirs_warned) >= 2, done.stderr
    code, out, err = ours(
        capsys, monkeypatch, exe, "-O", "0", "-O", "1", "warn.py", "pkg", cwd=mine
    )
    assert code == 0, out + err
    assert warning_lines(err) == theirs_warned
    assert len(err.splitlines()) == len(theirs_warned)  # each once, though two levels compiled
    assert not warning_lines(out)  # the report is stdout's; warnings are stderr's
    # -q: nothing of them (and a fresh cache is not compiled again, so they do not repeat).
    assert ours(capsys, monkeypatch, exe, "-q", "--force", "warn.py", "pkg", cwd=mine)[1:] == (
        "",
        "",
    )
    code, out, err = ours(
        capsys, monkeypatch, exe, "--force", "--format", "json", "warn.py", cwd=mine
    )
    report = json.loads(out)
    assert err == "" and report["warnings"]
    assert {
        f"warn.py:{w['line']}: {w['category']}: {w['message']}" for w in report["warnings"]
    } == {w for w in theirs_warned if w.startswith("warn.py")}


def test_warning_filters_of_the_environment_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTHONWARNINGS=error turns compileall's warnings into failures; the workers report the
    warnings and compile, whatever the environment says."""
    exe = sys.executable
    mine = make(tmp_path / "ours", WARNINGS)
    monkeypatch.setenv("PYTHONWARNINGS", "error")
    code, out, err = ours(capsys, monkeypatch, exe, "warn.py", cwd=mine)
    assert code == 0 and "compiled 1 of 1" in out, out + err
    assert warning_lines(err)


# --- output in any encoding, and compileall's error messages ------------------------------


ODD = {
    "\u00fc.py": 'x = 1\ns = "\\d"\n',  # ü.py: warned of an invalid escape sequence
    "euro.py": "x = \u20ac\n",  # SyntaxError: invalid character '€' (U+20AC)
    "cookie.py": "# -*- coding: bogus -*-\nx = 1\n",  # SyntaxError: unknown encoding: bogus
}


@pytest.mark.parametrize("exe", interpreter_params(["3.9", "3.12", "3.13"]))
def test_any_stdout_encoding_and_compileall_messages(exe: str, tmp_path: Path) -> None:
    """``PYTHONIOENCODING=ascii``: names and messages, the workers' included, come out escaped
    as compileall escapes them (backslashreplace), never as a traceback; each error's message
    is compileall's, and an encoding declaration's error has no invented position."""
    mine, theirs = twins(tmp_path, ODD)
    env = {"PYTHONIOENCODING": "ascii"}
    done = compileall(exe, "-q", ".", cwd=theirs, PYTHONWARNINGS="always", **env)
    assert done.returncode == 1
    theirs_errors = {Path(k).name: v for k, v in compileall_errors(done.stdout).items()}
    theirs_warned = {w.replace("./", "", 1) for w in warning_lines(done.stderr)}
    assert "Traceback" not in done.stderr
    mine_done = tool("compile", "-v", "--python", exe, cwd=mine, **env)
    assert mine_done.returncode == 1, mine_done.stdout + mine_done.stderr
    assert "Traceback" not in mine_done.stderr
    mine_done.stdout.encode("ascii")  # nothing the encoding cannot show
    assert our_errors(mine_done.stdout) == theirs_errors
    assert theirs_errors["euro.py"] == "SyntaxError: invalid character '\\u20ac' (U+20AC)"
    assert "cookie.py: SyntaxError: unknown encoding: bogus" in mine_done.stdout.splitlines()
    assert warning_lines(mine_done.stderr) == theirs_warned
    assert any("\\xfc" in w for w in theirs_warned)
    assert f"wrote __pycache__/\\xfc.{cache_tag(exe)}.pyc" in mine_done.stdout
    # The same run on a UTF-8 stdout shows the characters themselves.
    shutil.rmtree(mine / "__pycache__")
    utf8 = tool("compile", "--python", exe, cwd=mine, PYTHONIOENCODING="utf-8")
    assert "euro.py:1:5: SyntaxError: invalid character '\u20ac' (U+20AC)" in utf8.stdout


def test_encoding_errors_have_no_position_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = make(tmp_path / "ours", {"cookie.py": ODD["cookie.py"]})
    code, out, _ = ours(capsys, monkeypatch, sys.executable, "--format", "json", ".", cwd=mine)
    (error,) = json.loads(out)["errors"]
    assert code == 1
    assert (error["line"], error["column"], error["message"]) == (
        None,
        None,
        "SyntaxError: unknown encoding: bogus",
    )


def cache_tag(exe: str) -> str:
    done = run_python(exe, "import sys; print(sys.implementation.cache_tag)")
    return done.stdout.strip()


# --- a changed --strip-prefix / --prepend-prefix -------------------------------------------


def recorded_names(exe: str, root: Path) -> dict[str, str]:
    """Each cache's co_filename, read in the interpreter that wrote it."""
    code = (
        "import marshal, pathlib, json, sys\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "print(json.dumps({str(p.relative_to(root)): marshal.loads(p.read_bytes()[16:]).co_filename"
        " for p in root.rglob('*.pyc')}))\n"
    )
    done = subprocess.run([exe, "-c", code, str(root)], capture_output=True, text=True, check=True)
    names: dict[str, str] = json.loads(done.stdout)
    return names


@pytest.mark.parametrize("exe", interpreter_params(["3.9", "3.13", "pypy3"]))
def test_a_changed_prefix_is_noticed(
    exe: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """compileall -s/-p leaves a cache with the old file name "fresh"; with the options given,
    a cache whose code records another name is stale, and the rewritten caches record what
    compileall -s -p writes on a cold tree."""
    files = {k: v for k, v in TREE.items() if k.startswith("lib/")}
    mine, theirs = twins(tmp_path, files)
    assert (
        compileall(
            exe, "-q", "-s", str(theirs), "-p", "/srv/app", str(theirs / "lib"), cwd=theirs
        ).returncode
        == 0
    )
    first = ["--strip-prefix", str(mine), "lib"]
    assert ours(capsys, monkeypatch, exe, *first, cwd=mine)[0] == 0
    stamps = {p: p.stat().st_mtime_ns for p in mine.rglob("*.pyc")}
    # The same prefixes again: nothing is rewritten.
    code, out, _ = ours(capsys, monkeypatch, exe, *first, cwd=mine)
    assert code == 0 and "nothing to compile" in out
    assert {p: p.stat().st_mtime_ns for p in mine.rglob("*.pyc")} == stamps
    # Another prefix: every cache is stale, the dry run says why, and the run rewrites them.
    second = [*first, "--prepend-prefix", "/srv/app"]
    code, out, _ = ours(capsys, monkeypatch, exe, *second, "--dry-run", cwd=mine)
    assert code == 0 and f"would compile {len(files)} of {len(files)}" in out
    assert "its code records the file name 'lib/a.py'; this run writes '/srv/app/lib/a.py'" in out
    code, out, _ = ours(capsys, monkeypatch, exe, *second, cwd=mine)
    assert code == 0 and f"compiled {len(files)} of {len(files)}" in out
    assert recorded_names(exe, mine) == recorded_names(exe, theirs)
    assert "nothing to compile" in ours(capsys, monkeypatch, exe, *second, cwd=mine)[1]


# --- -q and the help ------------------------------------------------------------------------


def test_quiet_prints_only_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """-q: the errors (as compileall -q prints its errors), no summary and no warnings; -qq is
    read as -q (compileall's -qq would hide the errors too). The help says so."""
    exe = sys.executable
    files = {**WARNINGS, "euro.py": ODD["euro.py"], "ok.py": "X = 1\n"}
    mine, theirs = twins(tmp_path, files)
    done = compileall(exe, "-q", ".", cwd=theirs)
    assert done.returncode == 1 and set(compileall_errors(done.stdout)) == {"./euro.py"}
    for flags in (["-q"], ["-qq"]):
        code, out, err = ours(capsys, monkeypatch, exe, *flags, "--force", ".", cwd=mine)
        assert (code, out, err) == (
            1,
            "euro.py:1:5: SyntaxError: invalid character '\u20ac' (U+20AC)\n",
            "",
        )
    code, out, _ = cli(capsys, "compile", "--help")
    text = " ".join(out.split())
    assert (
        "Print only errors and what was skipped or unreadable: no compiler warnings, no summary"
        in text
    )
    assert "totals" not in text
    assert (
        "Skip what matches this gitignore pattern (directories, and files outside __pycache__)"
        in text
    )


# --- the parity table -------------------------------------------------------------------------


def compileall_options(exe: str) -> set[str]:
    done = subprocess.run(
        [exe, "-m", "compileall", "--help"], capture_output=True, text=True, check=True
    )
    return set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", done.stdout)) | {"FILE|DIR"}


@pytest.mark.parametrize("exe", interpreter_params(["3.9", "3.13"]))
def test_parity_table_lists_every_compileall_option(exe: str) -> None:
    """docs/compile.md's parity table has a row for every option of compileall's --help."""
    text = DOCS.read_text(encoding="utf-8")
    table = text[text.index("## compileall parity") :]
    table = table[: table.find("\n## ", 1) if "\n## " in table[1:] else len(table)]
    listed: set[str] = set()
    for row in table.splitlines():
        cells = re.split(r"\|(?=(?:[^`]*`[^`]*`)*[^`]*$)", row)  # not a | inside `code`
        if len(cells) > 2:  # a row: its first cell names compileall's options
            for code in re.findall(r"`([^`]+)`", cells[1]):
                listed |= set(re.split(r"[ ,]+", code))
    missing = sorted(compileall_options(exe) - listed)
    assert not missing, f"compileall options missing from the parity table: {missing}"
