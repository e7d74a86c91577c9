"""[tool.pycache-tool] in pyproject.toml: settings applied, bad ones refused, any valid TOML read
(tomllib, or tomli before Python 3.11: the same parser on every version)."""

from __future__ import annotations

import json
import os
import py_compile
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pycache_tool import config
from pycache_tool.cli import main
from pycache_tool.errors import UsageError
from tests.conftest import write

TAG = sys.implementation.cache_tag


def pyproject(directory: Path, body: str) -> Path:
    return write(directory / "pyproject.toml", textwrap.dedent(body))


def make_pyc(source: Path, cfile: Path | None = None) -> Path:
    write(source, "x = 1\n")
    cfile = cfile or source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
    py_compile.compile(str(source), cfile=str(cfile), doraise=True)
    return cfile


def audit_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", *args, "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


def record_paths(doc: dict[str, Any], root: Path) -> set[str]:
    return {Path(os.path.relpath(r["path"], root)).as_posix() for r in doc["records"]}


# --- settings applied through the CLI ----------------------------------------------------


def test_exclude_from_pyproject_adds_to_the_command_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pyproject(
        tmp_path,
        """
        [tool.pycache-tool]
        exclude = ["vendor", "/build/"]
        """,
    )
    for d in ("vendor", "src/vendor", "build", "src/build", "src", "other"):
        make_pyc(tmp_path / d / "m.py")
    code, doc = audit_json(capsys, str(tmp_path))
    assert code == 0, doc
    assert record_paths(doc, tmp_path) == {
        f"src/__pycache__/m.{TAG}.pyc",
        f"src/build/__pycache__/m.{TAG}.pyc",
        f"other/__pycache__/m.{TAG}.pyc",
    }
    code, doc = audit_json(capsys, str(tmp_path), "--exclude", "other")
    assert code == 0
    assert record_paths(doc, tmp_path) == {
        f"src/__pycache__/m.{TAG}.pyc",
        f"src/build/__pycache__/m.{TAG}.pyc",
    }


def test_settings_found_from_a_subdirectory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject(tmp_path, '[tool.pycache-tool]\nexclude = ["/src/skip"]\n')
    make_pyc(tmp_path / "src" / "skip" / "m.py")
    make_pyc(tmp_path / "src" / "keep" / "m.py")
    code, doc = audit_json(capsys, str(tmp_path / "src"))
    assert code == 0
    assert record_paths(doc, tmp_path) == {f"src/keep/__pycache__/m.{TAG}.pyc"}


def test_no_ignore_from_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git" / "info").mkdir(parents=True)
    write(tmp_path / ".gitignore", "build/\n")
    make_pyc(tmp_path / "build" / "m.py")
    code, doc = audit_json(capsys, str(tmp_path))
    assert code == 0 and doc["records"] == []
    pyproject(tmp_path, "[tool.pycache-tool]\nno-ignore = true\n")
    code, doc = audit_json(capsys, str(tmp_path))
    assert code == 0
    assert record_paths(doc, tmp_path) == {f"build/__pycache__/m.{TAG}.pyc"}
    pyproject(tmp_path, "[tool.pycache-tool]\nno-ignore = false\n")
    code, doc = audit_json(capsys, str(tmp_path))
    assert code == 0 and doc["records"] == []


def test_tag_and_python_from_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_pyc(tmp_path / "m.py")
    pyproject(tmp_path, '[tool.pycache-tool]\ntag = ["cpython-38"]\n')
    code, doc = audit_json(capsys, str(tmp_path))
    assert code == 0
    assert [t["tag"] for t in doc["targets"]] == ["cpython-38"]
    assert [r["target"] for r in doc["records"]] == [False]
    # The command line replaces the configured targets.
    code, doc = audit_json(capsys, str(tmp_path), "--tag", TAG)
    assert [t["tag"] for t in doc["targets"]] == [TAG]
    pyproject(tmp_path, f"[tool.pycache-tool]\npython = [{json.dumps(sys.executable)}]\n")
    code, doc = audit_json(capsys, str(tmp_path))
    assert code == 0
    assert [t["tag"] for t in doc["targets"]] == [TAG]
    assert [r["target"] for r in doc["records"]] == [True]


def evil_script(path: Path) -> Path:
    """An "interpreter" a checkout could ship: it leaves a mark, then runs the real one."""
    write(path, f'#!/bin/sh\ntouch "$(dirname "$0")/RAN"\nexec {sys.executable} "$@"\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    "named",
    ["./evil.sh", "tools/evil.sh", "evil.sh", "{project}/tools/evil.sh", "{repo}/evil.sh"],
)
@pytest.mark.parametrize("command", ["audit", "clean", "compile", "doctor"])
def test_a_checkout_never_runs_its_own_programs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    named: str,
    command: str,
) -> None:
    """`[tool.pycache-tool] python` naming a program of the checkout (a relative path, a path
    into the project or its repository, a name that only "." on PATH finds) is refused, one
    line, exit 2, and nothing runs; the same program given with --python runs."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    project = repo / "project"  # its own pyproject, inside the repository's work tree
    for script in (project / "evil.sh", project / "tools" / "evil.sh", repo / "evil.sh"):
        evil_script(script)
    entry = named.format(project=project, repo=repo)
    pyproject(project, f"[tool.pycache-tool]\npython = [{json.dumps(entry)}]\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", os.pathsep.join([".", "tools", os.environ.get("PATH", "")]))
    code = main([command] + (["."] if command != "doctor" else []))
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"pycache-tool: error: {project / 'pyproject.toml'}: ")
    assert f"python {entry!r}" in err and "--python" in err and len(err.splitlines()) == 1
    assert not any(p.name == "RAN" for p in repo.rglob("*"))
    # Named on the command line it runs: the user chose it.
    assert main(["audit", "--python", "./evil.sh", "."]) == 0, capsys.readouterr().err
    assert (project / "RAN").exists()


def test_configured_interpreters_outside_the_checkout_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An absolute path outside the checkout (~ expanded), or a bare name found on PATH."""
    tools = tmp_path / "home" / "bin"
    evil_script(tools / "mypython")
    project = tmp_path / "project"
    make_pyc(project / "m.py")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", os.pathsep.join([str(tools), os.environ.get("PATH", "")]))
    for entry in ["mypython", "~/bin/mypython", str(tools / "mypython")]:
        (tools / "RAN").unlink(missing_ok=True)
        pyproject(project, f"[tool.pycache-tool]\npython = [{json.dumps(entry)}]\n")
        code, doc = audit_json(capsys, str(project))
        assert code == 0, entry
        assert [t["tag"] for t in doc["targets"]] == [TAG]
        assert [r["target"] for r in doc["records"]] == [True]
        assert (tools / "RAN").exists()


def test_pycache_prefix_is_relative_to_the_pyproject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    pyproject(project, '[tool.pycache-tool]\npycache-prefix = "cache"\n')
    source = project / "pkg" / "m.py"
    mirror = project / "cache" / str(source.parent).lstrip(os.sep)
    make_pyc(source, mirror / f"m.{TAG}.pyc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, doc = audit_json(capsys, str(project))
    assert code == 0
    assert [r["status"] for r in doc["records"]] == ["fresh"]
    assert doc["records"][0]["path"] == str(mirror / f"m.{TAG}.pyc")


def test_no_pyproject_or_no_table_means_defaults(tmp_path: Path) -> None:
    assert config.load(str(tmp_path)) == ({}, None)
    pyproject(tmp_path, '[project]\nname = "x"\n[tool.black]\nline-length = 80\n')
    assert config.load(str(tmp_path)) == ({}, str(tmp_path / "pyproject.toml"))


# --- bad settings: exit 2 with one line --------------------------------------------------

BAD = [
    pytest.param('[tool.pycache-tool]\nexlude = ["x"]\n', "unknown key 'exlude'", id="unknown-key"),
    pytest.param('[tool.pycache-tool]\nexclude = "x"\n', "exclude must be", id="exclude-str"),
    pytest.param("[tool.pycache-tool]\nexclude = [1]\n", "", id="exclude-int-items"),
    pytest.param('[tool.pycache-tool]\nno-ignore = "yes"\n', "no-ignore must be", id="bool-str"),
    pytest.param("[tool.pycache-tool]\nno-ignore = 1\n", "", id="bool-int"),
    pytest.param('[tool.pycache-tool]\ntag = "cpython-312"\n', "tag must be", id="tag-str"),
    pytest.param('[tool.pycache-tool]\npython = ["a", true]\n', "", id="python-mixed"),
    pytest.param("[tool.pycache-tool]\npycache-prefix = []\n", "", id="prefix-list"),
    pytest.param("[tool.pycache-tool]\nexclude = [\n", "cannot parse", id="syntax"),
    pytest.param("[tool.pycache-tool\n", "cannot parse", id="bad-header"),
    pytest.param("[tool.pycache-tool.extra]\n", "unknown key 'extra'", id="sub-table"),
    # Invalid TOML, wherever it is in the file: refused, never half read.
    pytest.param('[tool.pycache-tool]\nexclude = ["\\q"]\n', "cannot parse", id="bad-escape"),
    pytest.param('[tool.pycache-tool]\nexclude = ["a" "b"]\n', "cannot parse", id="no-comma"),
    pytest.param("[tool.pycache-tool]\nexclude = [,]\n", "cannot parse", id="lone-comma"),
    pytest.param(
        '[tool.pycache-tool]\nexclude = ["a"]\nexclude = ["b"]\n', "cannot parse", id="twice"
    ),
    pytest.param("[project]\nname =\n[tool.pycache-tool]\n", "cannot parse", id="elsewhere"),
    pytest.param(
        '[tool.pycache-tool]\npycache-prefix = """never closed\n', "cannot parse", id="open-quotes"
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_bad_settings_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    pyproject(tmp_path, body)
    assert main(["audit", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("pycache-tool: error: ")
    assert str(tmp_path / "pyproject.toml") in lines[0]
    assert message in lines[0]


def test_undecodable_pyproject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.pycache-tool]\nexclude = ['\xff']\n")
    assert main(["audit", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


# --- any valid TOML, on every Python ---------------------------------------------------------

# Each sample and the settings it gives. Python 3.9 and 3.10 read them with tomli, the package
# that became tomllib: a hand-written reader there once ignored inline tables and dotted keys,
# rejected """ strings and accepted invalid TOML (see BAD).
SAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "all-keys": (
        """
        [tool.pycache-tool]
        exclude = ["build", "dist/"]
        no-ignore = true
        pycache-prefix = "/srv/pyc"
        python = ["python3.12", "/usr/bin/pypy3"]
        tag = ["cpython-312"]
        """,
        {
            "exclude": ["build", "dist/"],
            "no-ignore": True,
            "pycache-prefix": "/srv/pyc",
            "python": ["python3.12", "/usr/bin/pypy3"],
            "tag": ["cpython-312"],
        },
    ),
    "empty-table": ("[tool.pycache-tool]\n", {}),
    "absent": ('[project]\nname = "x"\n', {}),
    "multiline-array-comments": (
        """
        [tool.pycache-tool]
        # a comment
        exclude = [
            "a",  # why a
            'b',
            # a whole-line comment
            "c",
        ]  # trailing
        no-ignore = false # off
        """,
        {"exclude": ["a", "b", "c"], "no-ignore": False},
    ),
    "surrounding-tables": (
        """
        [project]
        name = "x"
        dependencies = [
            "typer[all]>=0.12",
            "pathspec>=1",
        ]
        [tool.pycache-tool]
        exclude = ["x"]
        [tool.black]
        exclude = ["not", "ours"]
        """,
        {"exclude": ["x"]},
    ),
    "quoted-header-and-keys": (
        """
        [tool."pycache-tool"]
        "exclude" = ["q"]
        'tag' = ['cpython-39']
        """,
        {"exclude": ["q"], "tag": ["cpython-39"]},
    ),
    "whitespace-in-header": ('[ tool . pycache-tool ]\nexclude=["w"]\n', {"exclude": ["w"]}),
    "quoted-dotted-is-not-ours": ('["tool.pycache-tool"]\nexclude = ["no"]\n', {}),
    "escapes": (
        r"""
        [tool.pycache-tool]
        exclude = ["a\\b", "tab\there", "\u00e9t\u00e9", "quote\"d", 'C:\literal\path', "caf\U0001F600"]
        pycache-prefix = "sp ace"
        """,
        {
            "exclude": ["a\\b", "tab\there", "été", 'quote"d', "C:\\literal\\path", "caf😀"],
            "pycache-prefix": "sp ace",
        },
    ),
    "brackets-and-hashes-inside-strings": (
        """
        [tool.pycache-tool]
        exclude = ["[abc]", "x]", "y[",
            "z", "#not-a-comment", "a # b"]  # see [the docs
        no-ignore = true
        """,
        {"exclude": ["[abc]", "x]", "y[", "z", "#not-a-comment", "a # b"], "no-ignore": True},
    ),
    "arrays-of-tables-around": (
        """
        [[tool.mypy.overrides]]
        module = ["a", "b"]
        [tool.pycache-tool]
        tag = ["cpython-311"]

        [[tool.mypy.overrides]]
        module = "foo.*"
        ignore_missing_imports = true
        """,
        {"tag": ["cpython-311"]},
    ),
    "table-defined-by-dotted-keys-elsewhere": (
        """
        [tool.other]
        pycache-tool = "a string, not our table"
        [tool.pycache-tool]
        exclude = []
        """,
        {"exclude": []},
    ),
    "crlf": (
        "[tool.pycache-tool]\r\nexclude = [\r\n  'a',\r\n]\r\nno-ignore = true\r\n",
        {"exclude": ["a"], "no-ignore": True},
    ),
    "empty-strings-and-trailing-comma": (
        """
        [tool.pycache-tool]
        exclude = ["", '',]
        pycache-prefix = ''
        """,
        {"exclude": ["", ""], "pycache-prefix": ""},
    ),
    "inline-table": (
        """
        [tool]
        pycache-tool = { exclude = ["i"], no-ignore = true }
        """,
        {"exclude": ["i"], "no-ignore": True},
    ),
    "inline-tables-all-the-way": (
        'tool = { pycache-tool = { tag = ["cpython-312"] } }\n',
        {"tag": ["cpython-312"]},
    ),
    "dotted-keys": (
        """
        [tool]
        pycache-tool.exclude = ["d"]
        pycache-tool."no-ignore" = true
        """,
        {"exclude": ["d"], "no-ignore": True},
    ),
    "dotted-keys-at-the-top": (
        'tool.pycache-tool.tag = ["cpython-311"]\n',
        {"tag": ["cpython-311"]},
    ),
    "multi-line-strings": (
        '[tool.pycache-tool]\nexclude = ["""a""", \'\'\'b\\c\'\'\', """\nfirst line \\\n  joined"""]\n'
        'pycache-prefix = """cache"""\n',
        {"exclude": ["a", "b\\c", "first line joined"], "pycache-prefix": "cache"},
    ),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_any_valid_toml_is_read(tmp_path: Path, name: str) -> None:
    body, want = SAMPLES[name]
    path = tmp_path / "pyproject.toml"
    path.write_bytes(textwrap.dedent(body).encode("utf-8"))  # as written: CRLF stays CRLF
    if want.get("pycache-prefix"):  # a path in a config file is relative to that file
        want = {**want, "pycache-prefix": str(tmp_path / want["pycache-prefix"])}
    assert config.load(str(tmp_path)) == (want, str(path))


def test_config_errors_are_usage_errors(tmp_path: Path) -> None:
    pyproject(tmp_path, "[tool.pycache-tool]\nexclude = [1]\n")
    with pytest.raises(UsageError):
        config.load(str(tmp_path))
