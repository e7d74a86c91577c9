"""What every command shares: --version, shell completion, colour only for a terminal and
never under NO_COLOR, and --quiet/--verbose."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from pycache_tool import __version__
from tests.cleantrees import cache_of, compile_here
from tests.conftest import cli, write

ESC = "\033["


def run_tool(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pycache_tool", *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_on_terminal(*args: str, env: dict[str, str]) -> str:
    """Run the tool with stdout on a pseudo-terminal, as a person would see it."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "pycache_tool", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TERM": "xterm", **env},
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


@pytest.fixture
def stale_tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    source = write(root / "m.py", "A = 1\n", mtime=1_600_000_000)
    compile_here(source)
    write(source, "A = 22\n", mtime=1_600_000_100)
    compile_here(write(root / "ok.py", "B = 1\n"))
    return root


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "--version") == (0, f"pycache-tool {__version__}\n", "")


def test_completion_script_and_answers() -> None:
    shown = run_tool("--show-completion", "bash")
    assert shown.returncode == 0, shown.stderr
    assert "_PYCACHE_TOOL_COMPLETE=complete_bash" in shown.stdout
    # What the installed script asks the tool when the user presses Tab.
    env = {"_PYCACHE_TOOL_COMPLETE": "complete_bash", "COMP_WORDS": "pycache-tool cl"}
    answered = run_tool(env={**env, "COMP_CWORD": "1"})
    assert answered.stdout.split() == ["clean"]
    env["COMP_WORDS"] = "pycache-tool clean --or"
    answered = run_tool(env={**env, "COMP_CWORD": "2"})
    assert answered.stdout.split() == ["--orphans"]


def test_colour_on_a_terminal_only(stale_tree: Path) -> None:
    shown = run_on_terminal("audit", str(stale_tree), env={"NO_COLOR": ""})
    assert "stale" in shown
    assert f"{ESC}33mstale" in shown  # stale in yellow
    assert f"{ESC}32mfresh" in shown


def test_no_color_is_respected(stale_tree: Path) -> None:
    shown = run_on_terminal("audit", str(stale_tree), env={"NO_COLOR": "1"})
    assert "stale" in shown
    assert ESC not in shown


def test_plain_when_piped(stale_tree: Path) -> None:
    for args in (
        ["audit", "-v", str(stale_tree)],
        ["clean", "-n", str(stale_tree)],
        ["compile", "-n", str(stale_tree)],
    ):
        done = run_tool(*args, env={"NO_COLOR": ""})
        assert done.stdout and ESC not in done.stdout + done.stderr, args


def test_audit_quiet_keeps_totals_and_problems(
    stale_tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, loud, _ = cli(capsys, "audit", str(stale_tree))
    code, quiet, _ = cli(capsys, "audit", "--quiet", str(stale_tree))
    assert code == 0
    assert "status" in loud and "status" not in quiet  # no tables
    assert quiet.splitlines()[0] == loud.splitlines()[0]  # the totals
    assert "needs attention (1)" in quiet and "m.cpython" in quiet
    assert "ok.cpython" not in quiet


def test_clean_verbose_gives_reasons(stale_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "clean", "--stale", "--dry-run", "--verbose", str(stale_tree))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("would remove"))
    assert line.endswith(
        "m.cpython-311.pyc: --stale: source mtime differs; import recompiles it".replace(
            "cpython-311", sys.implementation.cache_tag
        )
    )


def test_compile_quiet_and_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "m.py", "A = 1\n")
    code, out, _ = cli(capsys, "compile", "--quiet", "-j1", str(tmp_path))
    assert (code, out) == (0, "")
    assert cache_of(source).is_file()
    write(source, "A = 22\n")
    code, out, _ = cli(capsys, "compile", "--verbose", "-j1", str(tmp_path))
    assert code == 0
    assert f"wrote {cache_of(source)} [{sys.implementation.cache_tag}, level 0]" in out
    assert "compiled 1 of 1" in out


@pytest.mark.parametrize("command", ["audit", "clean", "compile"])
def test_quiet_and_verbose_exclude_each_other(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, command, "-q", "-v", str(tmp_path))
    assert code == 2
    assert err == "pycache-tool: error: --quiet and --verbose exclude each other\n"


def test_interrupt_while_the_cli_loads_is_one_line() -> None:
    """Ctrl-C while typer and the commands are still being imported ends like one later on."""
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def interrupted(name, globals=None, locals=None, fromlist=(), level=0):\n"
        "    if name == 'pycache_tool.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, globals, locals, fromlist, level)\n"
        "builtins.__import__ = interrupted\n"
        "sys.argv = ['pycache-tool', 'audit']\n"
        "from pycache_tool.__main__ import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "pycache-tool: interrupted\n")


def test_the_library_does_not_load_the_cli() -> None:
    """``import pycache_tool`` (the script's first step, before it can answer Ctrl-C) leaves
    typer and the commands for later."""
    code = "import sys, pycache_tool; print(sorted(m for m in sys.modules if 'typer' in m or 'cli' in m))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n", done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile", "--jobs", "0"], "--jobs must be at least 1"),
        (["compile", "-O", "3"], "-O must be between 0 and 2, not 3"),
        (["compile", "-O", "0", "-O", "-1"], "-O must be between 0 and 2, not -1"),
        (["compile", "--timeout", "-1"], "--timeout must be above 0, not -1"),
        (["compile", "--timeout", "0"], "--timeout must be above 0, not 0"),
        (["compile", "--timeout", "nan"], "--timeout must be a finite number, not nan"),
        (["compile", "--timeout", "inf"], "--timeout must be a finite number, not inf"),
        (["importtime", "json", "--timeout", "nan"], "--timeout must be a finite number, not nan"),
        (["importtime", "json", "--repeat", "0"], "--repeat must be at least 1"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ranges are declared on the options; nan and infinity never slip through a comparison."""
    code, out, err = cli(capsys, *args, *([str(tmp_path)] if args[0] == "compile" else []))
    assert (code, out, err) == (2, "", f"pycache-tool: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["audit", "clean", "compile"])
@pytest.mark.parametrize("paths", [[""], [".", ""]], ids=["empty", "dot and empty"])
def test_an_empty_path_is_a_usage_error(
    command: str,
    paths: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``pycache-tool clean "$DIR"`` with DIR unset: not the working directory, a usage error."""
    source = write(tmp_path / "gone.py", "G = 1\n")
    cache = compile_here(source)
    source.unlink()
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, command, *paths)
    assert (code, out) == (2, "")
    assert (
        err
        == "pycache-tool: error: an empty PATH (an unset variable?): name a directory, or none for .\n"
    )
    assert cache.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["__pycache__"]


def test_bare_command_prints_the_help_as_help() -> None:
    done = run_tool()
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Usage: pycache-tool [OPTIONS] COMMAND")
    assert "audit" in done.stdout


@pytest.mark.parametrize("flags", [[], ["--check"]])
def test_a_closed_pipe_ends_the_run_quietly(flags: list[str], tmp_path: Path) -> None:
    """``audit --check | head -1``: the reader leaving is no finding, and no traceback."""
    for i in range(3000):  # far more report than a pipe buffer holds
        write(tmp_path / "__pycache__" / f"module_number_{i:05}.cpython-311.pyc", "not a pyc")
    with subprocess.Popen(
        [sys.executable, "-m", "pycache_tool", "audit", *flags, "-v", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert (proc.wait(timeout=60), err) == (0, b"")


def test_output_survives_an_ascii_stdout(tmp_path: Path) -> None:
    """A name the stdout encoding cannot show is escaped, never a UnicodeEncodeError."""
    write(tmp_path / "ü.py", "x = 1\n")
    write(tmp_path / "__pycache__" / "ü.cpython-311.pyc", "not a pyc")
    done = run_tool("audit", "-v", str(tmp_path), env={"PYTHONIOENCODING": "ascii"})
    assert (done.returncode, done.stderr) == (0, "")
    assert "__pycache__/\\xfc.cpython-311.pyc" in done.stdout


def test_clean_help_lists_only_the_exit_codes_clean_returns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(capsys, "clean", "--help")
    codes = " ".join(out[out.index("Exit codes:") :].split())
    assert code == 0
    assert "1 findings" not in codes and "--check" not in codes
    assert codes.startswith("Exit codes: 0 ok") and "3 not everything" in codes
