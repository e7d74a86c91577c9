"""Shared fixtures: a clean environment, real interpreters found on the machine, tree builders."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

os.environ.setdefault("TYPER_USE_RICH", "0")

# In CI every property test draws the same examples, so a submission's verdict does not depend
# on chance; on developer machines they explore new ones on every run.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
sys.dont_write_bytecode = True


def _find_interpreters() -> dict[str, str]:
    """Version label -> executable, for every Python this machine has (pyenv builds, pypy3)."""
    found: dict[str, str] = {}
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for exe in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python"))):
        name = os.path.basename(os.path.dirname(os.path.dirname(exe)))
        parts = name.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            found.setdefault(f"{parts[0]}.{parts[1]}", exe)
    pypy = shutil.which("pypy3")
    if pypy:
        found["pypy3"] = pypy
    return found


INTERPRETERS = _find_interpreters()
ALL_VERSIONS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]


def interpreter_params(versions: list[str] | None = None) -> list[object]:
    """pytest params over the given versions, marked as the interpreter matrix (left out by
    ``make test-fast``); absent interpreters skip with a reason."""
    return [
        pytest.param(
            INTERPRETERS.get(v),
            id=v,
            marks=[
                pytest.mark.interpreters,
                pytest.mark.skipif(v not in INTERPRETERS, reason=f"Python {v} is not installed"),
            ],
        )
        for v in (versions or ALL_VERSIONS)
    ]


@pytest.fixture(scope="session")
def git_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user configuration for git that has nothing in it but who commits."""
    home = tmp_path_factory.mktemp("git-home")
    (home / "gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.com\n")
    (home / "xdg").mkdir()
    return home


# Busy neighbours: processes that only burn CPU beside the suite, so that races, timeouts and
# waits are tried on a machine whose cores are all taken (``make stress`` starts BUSY of them).
BUSY = int(os.environ.get("PYCACHE_TOOL_BUSY") or 0)
_BUSY_LOOP = """\
import os
parent = os.getppid()
while os.getppid() == parent:  # ends with the suite, even one that was killed
    for _ in range(100000):
        pass
"""


@pytest.fixture(scope="session", autouse=BUSY > 0)
def busy_neighbours() -> Iterator[list[subprocess.Popen[bytes]]]:
    """``PYCACHE_TOOL_BUSY`` processes spinning for the whole session (none by default).

    Each is in a session of its own, so that the Ctrl-C the SIGINT tests send to their process
    group never reaches them."""
    loops = [
        subprocess.Popen([sys.executable, "-c", _BUSY_LOOP], start_new_session=True)
        for _ in range(BUSY)
    ]
    try:
        yield loops
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, git_home: Path) -> Iterator[None]:
    """Tests set what they test; nothing leaks in from the developer's shell."""
    for name in (
        "SOURCE_DATE_EPOCH",
        "PYTHONPYCACHEPREFIX",
        "PYTHONOPTIMIZE",
        "PYTHONPATH",
        "PYTHONHOME",
    ):
        monkeypatch.delenv(name, raising=False)
    # git (and the walker, which reads core.excludesFile) sees no system or user configuration.
    for name in [n for n in os.environ if n.startswith("GIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(git_home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(git_home / "xdg"))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(sys, "pycache_prefix", None, raising=False)
    yield


def write(path: Path, text: str = "", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def run_python(
    exe: str,
    code: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in ``exe`` with bytecode writing off unless ``env`` says otherwise."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    full_env.update(env or {})
    return subprocess.run(
        [exe, *(args or []), "-c", code],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``pycache-tool ARGS`` in-process: (exit code, stdout, stderr)."""
    from pycache_tool.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    """Run ``pycache-tool ARGS --format json`` in-process: (exit code, parsed report)."""
    code, out, err = cli(capsys, *args, "--format", "json")
    assert out, err
    return code, json.loads(out)
