"""`pycache-tool importtime`: cold against warm imports in real interpreters, the report, the
errors, and proof that nothing outside its temporary directory is written.

The only timing assert is "warm < cold", on a package big enough to make it certain: compiling
720 functions and classes costs tens of milliseconds, loading their cache about one.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pycache_tool.bytecode import interpreters
from pycache_tool.errors import UsageError
from pycache_tool.importtime import measure, parse_lines, parse_run

from .cleantrees import snapshot
from .conftest import INTERPRETERS, cli, cli_json, interpreter_params, write
from .test_cli_conventions import ESC, run_on_terminal

# The newest pyenv CPython when there is one: the tool's own venv has .pth files whose
# imports compile in every cold run and make each one several times slower.
PYTHON = next(
    (INTERPRETERS[v] for v in ("3.13", "3.12", "3.11", "3.10", "3.9", "3.8") if v in INTERPRETERS),
    sys.executable,
)
MODULES = 6
DEFS = 60  # a class and a function each: 720 definitions in all


def make_package(root: Path, *, stdlib: bool = True) -> Path:
    """``bigpkg``: compiling it clearly costs more than loading its cache. With ``stdlib`` it
    also imports a standard-library package (json), for the report to tell apart."""
    body = "".join(
        f"class C{j}:\n"
        f"    def m(self, x):\n"
        f"        return [x * k for k in range({j})] + [{j}, 'c{j}']\n\n"
        f"def f{j}(a, b=2, *c, **d):\n"
        f"    if a > b:\n"
        f"        return {{'a': a, 'j': {j}}}\n"
        f"    return sum(c) + len(d) + {j}\n\n"
        for j in range(DEFS)
    )
    for i in range(MODULES):
        write(root / "bigpkg" / f"mod{i}.py", body)
    imports = "".join(f"from . import mod{i}\n" for i in range(MODULES))
    write(root / "bigpkg" / "__init__.py", ("import json\n" if stdlib else "") + imports)
    return root


@pytest.fixture
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory for the tool alone, to prove it cleans up after itself."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.mark.parametrize("exe", interpreter_params(["3.8", "3.13"]))
def test_warm_is_faster_and_nothing_outside_the_prefix_is_written(
    exe: str,
    tmp_path: Path,
    own_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Without json: the difference comes from the generated code alone.
    tree = make_package(tmp_path / "tree", stdlib=False)
    before = snapshot(tree)
    user_prefix = tmp_path / "user-prefix"
    # The user's settings must not leak in: a prefix of theirs is not used, and the
    # PYTHONDONTWRITEBYTECODE=1 that the fixture sets would make every warm run cold.
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(user_prefix))
    assert os.environ["PYTHONDONTWRITEBYTECODE"] == "1"
    monkeypatch.chdir(tree)

    code, doc = cli_json(capsys, "importtime", "bigpkg", "--python", exe, "--repeat", "3")

    assert code == 0
    assert doc["warm"]["module_us"] < doc["cold"]["module_us"]
    assert doc["speedup"] > 1
    # Module by module too, so that warm runs that compile anyway cannot pass by chance.
    gains = {m["name"]: m for m in doc["modules"]}
    for i in range(MODULES):
        assert gains[f"bigpkg.mod{i}"]["warm_self_us"] < gains[f"bigpkg.mod{i}"]["cold_self_us"]
    assert len(doc["cold"]["runs_us"]) == len(doc["warm"]["runs_us"]) == 3
    assert snapshot(tree) == before
    assert not list(tree.rglob("__pycache__"))
    assert not user_prefix.exists()
    assert os.listdir(own_tmp) == []


def test_every_run_writes_bytecode_into_its_own_temporary_prefix(
    tmp_path: Path,
    own_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What warm and cold mean, checked without a clock: each child notes its settings."""
    log = tmp_path / "runs.log"
    write(
        tmp_path / "probe.py",
        "import sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(f'{sys.dont_write_bytecode} {sys.pycache_prefix}\\n')\n",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "user-prefix"))
    code, _, err = cli(capsys, "importtime", "probe", "--python", PYTHON, "--repeat", "3")
    assert code == 0, err
    runs = [line.split(" ") for line in log.read_text().splitlines()]
    assert [writes_off for writes_off, _ in runs] == ["False"] * 7
    prefixes = [prefix for _, prefix in runs]
    assert all(os.path.dirname(os.path.dirname(p)) == str(own_tmp) for p in prefixes)
    # The priming run, then cold, warm, warm, cold, cold, warm: the warm runs share the
    # primed prefix, every cold run has a new one.
    warm = prefixes[0]
    assert [p == warm for p in prefixes] == [True, False, True, True, False, False, True]
    cold = [p for p in prefixes if p != warm]
    assert len(set(cold)) == 3
    assert os.listdir(own_tmp) == []


def test_json_report(
    tmp_path: Path,
    own_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(make_package(tmp_path))
    code, doc = cli_json(
        capsys, "importtime", "bigpkg", "--python", PYTHON, "--repeat", "1", "--top", "0"
    )
    assert code == 0
    assert doc["schema"] == 1
    assert doc["command"] == "importtime"
    assert doc["module"] == "bigpkg"
    assert doc["repeat"] == 1
    here = interpreters.query(PYTHON)
    assert doc["target"] == {
        "name": here.name,
        "tag": here.tag,
        "python": here.python,
        "magic": here.magic,
        "executable": here.executable,
    }
    for kind in ("cold", "warm"):
        part = doc[kind]
        assert set(part) == {"module_us", "stdlib_us", "process_us", "runs_us"}
        assert part["runs_us"] == [part["module_us"]]
        # MODULE's subtree holds its standard-library part; the process holds MODULE.
        assert 0 < part["stdlib_us"] < part["module_us"] < part["process_us"]
    assert doc["speedup"] == round(doc["cold"]["module_us"] / doc["warm"]["module_us"], 2)
    # What the user's own caches decide: MODULE less its standard-library part.
    own = {k: doc[k]["module_us"] - doc[k]["stdlib_us"] for k in ("cold", "warm")}
    assert doc["own"] == {
        "cold_us": own["cold"],
        "warm_us": own["warm"],
        "speedup": round(own["cold"] / own["warm"], 2),
    }

    modules = {m["name"]: m for m in doc["modules"]}
    assert doc["modules_total"] == len(modules)
    assert {f"bigpkg.mod{i}" for i in range(MODULES)} | {"bigpkg", "json"} <= set(modules)
    assert modules["json"]["stdlib"] is True
    assert modules["json.decoder"]["stdlib"] is True
    assert modules["bigpkg.mod0"]["stdlib"] is False
    assert modules["bigpkg"]["stdlib"] is False
    mod0 = modules["bigpkg.mod0"]
    assert set(mod0) == {
        "name",
        "stdlib",
        "cold_self_us",
        "warm_self_us",
        "saved_self_us",
        "cold_cumulative_us",
        "warm_cumulative_us",
        "saved_cumulative_us",
    }
    assert mod0["saved_self_us"] == mod0["cold_self_us"] - mod0["warm_self_us"]
    # MODULE's own line: its cumulative time is the headline.
    assert modules["bigpkg"]["cold_cumulative_us"] == doc["cold"]["module_us"]
    saved = [m["saved_self_us"] for m in doc["modules"]]
    assert saved == sorted(saved, reverse=True)
    # Nothing that ran before or beside MODULE (interpreter start-up) is in its list.
    assert "site" not in modules
    assert "encodings" not in modules

    code, top = cli_json(
        capsys, "importtime", "bigpkg", "--python", PYTHON, "--repeat", "1", "--top", "2"
    )
    assert len(top["modules"]) == 2
    assert top["modules_total"] == len(modules)


def test_text_report_with_the_users_environment(
    tmp_path: Path,
    own_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Found only through PYTHONPATH: the child runs in the user's environment.
    monkeypatch.setenv("PYTHONPATH", str(make_package(tmp_path / "lib")))
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(
        capsys, "importtime", "bigpkg", "--python", PYTHON, "--repeat", "2", "--top", "3"
    )
    assert code == 0, err
    lines = out.splitlines()
    tag = interpreters.query(PYTHON).name
    assert re.fullmatch(
        rf"import bigpkg \({tag}\): [\d.]+ ms cold, [\d.]+ ms warm outside the standard library,"
        r" [\d.]+x faster with your caches(; the standard library adds [\d.]+ ms cold)?"
        r" \(medians of 2 runs each\)",
        lines[0],
    ), lines[0]
    ms = r"[\d.]+ ms"
    assert re.fullmatch(r"\s+cold\s+warm\s+saved", lines[2])
    assert re.fullmatch(rf"  bigpkg\s+{ms}\s+{ms}\s+-?{ms}", lines[3])
    assert re.fullmatch(rf"    of which stdlib\s+{ms}\s+{ms}\s+-?{ms}", lines[4])
    assert re.fullmatch(rf"  whole process\s+{ms}\s+{ms}\s+-?{ms}", lines[5])
    at = next(i for i, ln in enumerate(lines) if ln.startswith("modules that gain most"))
    assert re.fullmatch(r"modules that gain most \(self time, 3 of \d+\)", lines[at])
    assert re.fullmatch(r"  module\s+cold\s+warm\s+saved", lines[at + 1])
    rows = lines[at + 2 : at + 5]
    assert all(re.fullmatch(rf"  [\w.]+\s+{ms}\s+{ms}\s+-?{ms}(  stdlib)?", r) for r in rows)
    assert lines[at + 5 : at + 6] in ([], [""])
    assert "\033[" not in out
    assert err == ""

    code, out, _ = cli(capsys, "importtime", "bigpkg", "--python", PYTHON, "-r", "1", "--quiet")
    assert code == 0
    assert out.count("\n") == 1
    assert out.startswith("import bigpkg (") and "(1 run each)" in out

    code, out, _ = cli(capsys, "importtime", "bigpkg", "--python", PYTHON, "-r", "2", "-v")
    assert code == 0
    counted = re.search(r"^modules that gain most \(self time, (\d+) of (\d+)\)$", out, re.M)
    assert counted and counted[1] == counted[2] and int(counted[1]) >= MODULES + 2
    assert re.search(r"^  cold: [\d.]+, [\d.]+ ms$", out, re.M)
    assert re.search(r"^  warm: [\d.]+, [\d.]+ ms$", out, re.M)


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(make_package(tmp_path)), "NO_COLOR": ""}
    args = ("importtime", "bigpkg", "--python", PYTHON, "-r", "1")
    shown = run_on_terminal(*args, env=env)
    assert re.search(rf"{re.escape(ESC)}32m[\d.]+x{re.escape(ESC)}0m faster", shown), shown
    assert f"{ESC}1mmodules that gain most" in shown
    assert f"{ESC}2mstdlib" in shown
    assert ESC not in run_on_terminal(*args, env={**env, "NO_COLOR": "1"})


@pytest.mark.parametrize("exe", interpreter_params(["3.6", "3.7", "pypy3"]))
def test_interpreters_without_a_prefix_or_importtime_are_refused(
    exe: str, tmp_path: Path, own_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "importtime", "json", "--python", exe)
    assert code == 2
    assert out == ""
    target = interpreters.query(exe)
    if target.implementation == "pypy":
        assert err == (
            f"pycache-tool: error: {target.executable} is PyPy {target.version},"
            " which has no -X importtime\n"
        )
    else:
        assert target.version in ("3.6", "3.7")
        assert err == (
            f"pycache-tool: error: {target.executable} is Python {target.version}: importtime"
            " needs 3.8 or newer (pycache_prefix keeps the measurement away from your caches)\n"
        )
    assert os.listdir(own_tmp) == []


def test_module_that_cannot_be_imported(
    tmp_path: Path,
    own_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(tmp_path / "broken.py", "import json\nraise RuntimeError('boom at import')\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = cli(capsys, "importtime", "no_such_module")
    assert (code, out) == (3, "")
    assert err == (
        f"pycache-tool: error: cannot import no_such_module with {sys.executable}:"
        " ModuleNotFoundError: No module named 'no_such_module'\n"
    )
    code, out, err = cli(capsys, "importtime", "broken")
    assert (code, out) == (3, "")
    assert err.endswith(": RuntimeError: boom at import\n")
    assert snapshot(tmp_path) == before
    assert os.listdir(own_tmp) == []


def test_a_hanging_import_is_killed(
    tmp_path: Path,
    own_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The child starts a grandchild that holds its stderr open: only killing the whole
    # process group lets the tool return at once.
    write(
        tmp_path / "hangs.py",
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "time.sleep(30)\n",
    )
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    code, out, err = cli(capsys, "importtime", "hangs", "--python", PYTHON, "--timeout", "1")
    assert time.monotonic() - started < 4
    assert (code, out) == (3, "")
    assert err == "pycache-tool: error: import hangs took longer than 1 s (--timeout); killed\n"
    assert os.listdir(own_tmp) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["json", "--repeat", "0"], "--repeat must be at least 1"),
        (["json", "--top", "-1"], "--top must not be negative"),
        (["json", "--timeout", "-1"], "--timeout must not be negative"),
        (["json", "-q", "-v"], "--quiet and --verbose exclude each other"),
        (["os; import shutil"], "'os; import shutil' is not a module name"),
        (["mod.class"], "'mod.class' is not a module name"),
        (["sys"], "sys is loaded before -X importtime starts reporting"),
    ],
)
def test_usage_errors(
    args: list[str], message: str, own_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "importtime", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"pycache-tool: error: {message}")
    assert err.count("\n") == 1
    assert os.listdir(own_tmp) == []


STDERR = """\
import time: self [us] | cumulative | imported package
import time:       354 |        354 |   _io
import time:        93 |         93 |   marshal
import time:      1000 |       1000 | site
some output of the module itself
import time:        10 |         10 |       a.deep
import time:        20 |         30 |     a
import time:        40 |         40 |     other
import time:         3 |          3 |       a.b.c
import time:         5 |         78 |   a.b
import time:    cached |     cached |   json
import time:         7 |         85 | a.b.c
import time:       300 |        300 | after
"""


def test_parsing() -> None:
    lines = parse_lines(STDERR)
    assert lines is not None
    assert [(ln.depth, ln.name) for ln in lines[:4]] == [
        (1, "_io"),
        (1, "marshal"),
        (0, "site"),
        (3, "a.deep"),
    ]
    # Neither the header, nor the module's own output, nor "cached" lines (3.14) are lines.
    assert len(lines) == 10
    assert parse_lines("Traceback (most recent call last):\n") is None

    # a.b.c is loaded inside a.b, and the statement `import a.b.c` encloses both: MODULE's
    # time is the outer line's, and a.b.c's self times add up without counting twice.
    run = parse_run(STDERR, "a.b.c", "python")
    assert run.module_us == 85
    assert run.all_us == 354 + 93 + 1000 + 10 + 20 + 40 + 3 + 5 + 7 + 300
    assert run.subtree == {
        "a.deep": (10, 10),
        "a": (20, 30),
        "other": (40, 40),
        "a.b.c": (3 + 7, 85),
        "a.b": (5, 78),
    }
    # A module imported deeper (here by a.b) is measured from its own line.
    assert parse_run(STDERR, "a", "python").subtree == {"a.deep": (10, 10), "a": (20, 30)}
    # A module loaded twice in turn (a reload: here inside a, then again after it) counts twice.
    twice = STDERR.replace("|     other", "|     a.deep")
    assert parse_run(twice, "a.b.c", "python").subtree["a.deep"] == (10 + 40, 10 + 40)
    with pytest.raises(UsageError, match="^absent is loaded before -X importtime starts"):
        parse_run(STDERR, "absent", "python")
    with pytest.raises(UsageError, match="^python printed no -X importtime report$"):
        parse_run("Traceback (most recent call last):\n", "a", "python")


def test_library_call(tmp_path: Path, own_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(make_package(tmp_path))
    calls: list[tuple[str, int, int]] = []

    def progress(name: str, done: int, total: int) -> None:
        calls.append((name, done, total))

    result = measure("bigpkg.mod1", interpreters.query(PYTHON), repeat=3, progress=progress)
    assert calls == [("bigpkg.mod1", n, 7) for n in range(1, 8)]
    assert len(result.cold) == len(result.warm) == 3
    assert result.cold_us == statistics.median(r.module_us for r in result.cold)
    assert result.warm_us == statistics.median(r.module_us for r in result.warm)
    # `import bigpkg.mod1` imports the package first, and the package imports every module:
    # all of that is what the statement costs.
    gains = {g.name: g for g in result.modules}
    assert {"bigpkg", "json", *(f"bigpkg.mod{i}" for i in range(MODULES))} <= set(gains)
    assert gains["bigpkg.mod1"].cold_cumulative_us == result.cold_us
    assert gains["bigpkg.mod1"].cold_self_us < gains["bigpkg"].cold_cumulative_us
    assert result.stdlib == {name for name, g in gains.items() if g.stdlib}
    assert "json" in result.stdlib and "bigpkg.mod0" not in result.stdlib
    assert os.listdir(own_tmp) == []
