"""`pycache-tool doctor`: settings and where they came from, coverage of real locations, and
every warning, each triggered by a virtual environment (or an environment variable, or a
read-only mount) built for it, and each fix run to show that it fixes.

Surveys are scoped to a fresh ``venv --without-pip`` in tmp_path (``--no-stdlib``); one test
surveys a real standard library.
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pycache_tool.bytecode import interpreters
from pycache_tool.doctor import diagnose
from pycache_tool.reports.doctor import doctor_text

from .cleantrees import foreign_copy, snapshot
from .conftest import INTERPRETERS, cli, cli_json, interpreter_params, write

DOCTOR_VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]
# The warning tests need one real interpreter other than the tool's own: the newest CPython.
PYTHON = next(
    (INTERPRETERS[v] for v in ("3.13", "3.12", "3.11", "3.10", "3.9") if v in INTERPRETERS),
    sys.executable,
)
ROOT = Path(__file__).resolve().parents[1]


def make_venv(where: Path, python: str = PYTHON) -> tuple[str, Path]:
    """A virtual environment without pip: (its python, its site-packages)."""
    done = subprocess.run(
        [python, "-m", "venv", "--without-pip", str(where)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    exe = str(where / "bin" / "python")
    site = subprocess.run(
        [exe, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return exe, Path(os.path.realpath(site))


@pytest.fixture
def venv(tmp_path: Path) -> tuple[str, Path]:
    """A venv whose site-packages holds a package of ten modules (eleven sources), uncompiled."""
    exe, site = make_venv(tmp_path / "venv")
    for n in range(10):
        write(site / "pkg" / f"m{n}.py", f"VALUE = {n}\n")
    write(site / "pkg" / "__init__.py", "")
    return exe, site


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """``doctor ARGS --no-stdlib --format json``: (exit code, the one interpreter's report)."""
    code, doc = cli_json(capsys, "doctor", "--no-stdlib", *args)
    assert doc["schema"] == 1 and doc["command"] == "doctor"
    assert len(doc["interpreters"]) == 1
    return code, doc["interpreters"][0]


def codes(report: dict[str, Any]) -> list[str]:
    return [f["code"] for f in report["findings"]]


def finding(report: dict[str, Any], code: str) -> dict[str, Any]:
    (found,) = [f for f in report["findings"] if f["code"] == code]
    assert isinstance(found, dict)
    return found


def run_fix(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fix: str) -> None:
    """Run a finding's fix the way a shell would: ``VAR=value pycache-tool ...``."""
    words = shlex.split(fix)
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        monkeypatch.setenv(name, value)
    assert words[0] == "pycache-tool", fix
    code, out, err = cli(capsys, *words[1:])
    assert code == 0, out + err


def caches(root: Path) -> list[Path]:
    return sorted(root.rglob("*.pyc"))


# --- settings and where they came from -------------------------------------------------------


@pytest.mark.parametrize("python", interpreter_params(DOCTOR_VERSIONS))
def test_settings_of_every_interpreter(
    python: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tag, magic, version and site-packages as the interpreter itself reports them."""
    exe, site = make_venv(tmp_path / "venv", python)
    write(site / "mod.py", "X = 1\n")
    code, report = doctor(capsys, "--python", exe)
    assert code == 0
    expected = interpreters.query(exe)
    assert (report["tag"], report["magic"], report["version"]) == (
        expected.tag,
        expected.magic,
        expected.version,
    )
    assert report["implementation"] == expected.implementation
    assert report["full_version"].startswith(expected.version + ".")
    assert report["command"] == [exe] and report["executable"] == exe
    settings = report["settings"]
    assert settings["dont_write_bytecode"] == {"value": True, "from": "PYTHONDONTWRITEBYTECODE=1"}
    assert settings["optimize"] == {"value": 0, "from": None}
    assert settings["pycache_prefix"] == {"value": None, "resolved": None, "from": None}
    assert settings["check_hash_based_pycs"] == {"value": "default", "from": None}
    (location,) = report["locations"]
    assert location["kind"] == "site-packages" and location["path"] == str(site)
    assert (location["sources"], location["fresh"], location["files"]) == (1, 0, 0)
    assert codes(report) == ["writing-off"]


def test_origins_of_each_setting(
    venv: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment variable, a command-line option, or start-up code: each is named."""
    exe, site = venv
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    _, report = doctor(capsys, "--python", exe)
    assert report["settings"]["dont_write_bytecode"] == {"value": False, "from": None}

    _, report = doctor(capsys, "--python", f"{exe} -B -O --check-hash-based-pycs never")
    settings = report["settings"]
    assert report["command"] == [exe, "-B", "-O", "--check-hash-based-pycs", "never"]
    assert settings["dont_write_bytecode"] == {"value": True, "from": "-B"}
    assert settings["optimize"] == {"value": 1, "from": "-O"}
    assert settings["check_hash_based_pycs"] == {
        "value": "never",
        "from": "--check-hash-based-pycs",
    }

    monkeypatch.setenv("PYTHONOPTIMIZE", "2")
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "env-prefix"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    _, report = doctor(capsys, "--python", exe)
    settings = report["settings"]
    assert settings["optimize"] == {"value": 2, "from": "PYTHONOPTIMIZE=2"}
    assert settings["pycache_prefix"]["from"] == "PYTHONPYCACHEPREFIX"
    assert settings["pycache_prefix"]["resolved"] == str(tmp_path / "env-prefix")
    assert settings["source_date_epoch"] == "1700000000"

    # -X wins over the variable; -E ignores the variables altogether.
    _, report = doctor(capsys, "--python", f"{exe} -X pycache_prefix={tmp_path / 'x-prefix'}")
    assert report["settings"]["pycache_prefix"]["from"] == "-X pycache_prefix"
    assert report["settings"]["pycache_prefix"]["value"] == str(tmp_path / "x-prefix")
    _, report = doctor(capsys, "--python", f"{exe} -E")
    settings = report["settings"]
    assert settings["ignore_environment"] is True
    assert settings["optimize"] == {"value": 0, "from": None}
    assert settings["pycache_prefix"]["value"] is None

    # Start-up code that turns writing off is named as such.
    monkeypatch.delenv("PYTHONOPTIMIZE")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    write(site / "sitecustomize.py", "import sys\nsys.dont_write_bytecode = True\n")
    _, report = doctor(capsys, "--python", exe)
    assert report["settings"]["dont_write_bytecode"] == {"value": True, "from": "start-up code"}


def test_an_executable_whose_path_has_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing path is never split; a quoted one can carry options."""
    exe, _ = make_venv(tmp_path / "my venv")
    code, report = doctor(capsys, "--python", exe)
    assert code == 0 and report["command"] == [exe]
    code, report = doctor(capsys, "--python", f"{shlex.quote(exe)} -B")
    assert report["command"] == [exe, "-B"]


def test_default_target_is_the_running_interpreter(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor(capsys)
    assert code == 0
    assert report["command"] == [sys.executable]
    assert report["tag"] == sys.implementation.cache_tag


def test_unusable_interpreters_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for version in ("2.7", "3.6", "3.7"):
        if version in INTERPRETERS:
            code, out, err = cli(capsys, "doctor", "--python", INTERPRETERS[version])
            assert code == 2 and out == ""
            assert err == (
                "pycache-tool: error: doctor supports CPython and PyPy 3.8 or newer;"
                f" {INTERPRETERS[version]} is Python {version}\n"
            )
    code, _, err = cli(capsys, "doctor", "--python", str(tmp_path / "nothing"))
    assert code == 2 and err.startswith("pycache-tool: error: cannot run --python ")
    code, _, err = cli(capsys, "doctor", "--python", "")
    assert (code, err) == (2, "pycache-tool: error: --python needs an interpreter\n")
    code, _, err = cli(capsys, "doctor", "--python", f"{sys.executable} --no-such-option")
    assert code == 2 and err.startswith(f"pycache-tool: error: --python {sys.executable} ")
    code, _, err = cli(capsys, "doctor", "-q", "-v")
    assert (code, err) == (2, "pycache-tool: error: --quiet and --verbose exclude each other\n")


# --- the standard library, surveyed once -----------------------------------------------------


def test_the_standard_library_without_its_site_packages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every source of the stdlib counts once; a site-packages inside it is not the stdlib."""
    code, doc = cli_json(capsys, "doctor", "--python", PYTHON)
    (report,) = doc["interpreters"]
    stdlib = report["locations"][0]
    assert stdlib["kind"] == "stdlib"
    expected = 0
    for _, dirs, files in os.walk(stdlib["path"]):
        dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__")]
        expected += sum(name.endswith(".py") for name in files)
    assert stdlib["sources"] == expected > 500
    assert 0 < stdlib["fresh"] <= expected
    assert stdlib["files"] >= stdlib["fresh"] and stdlib["bytes"] > 0
    assert [loc["kind"] for loc in report["locations"][1:]] == ["site-packages"]


# --- each warning ----------------------------------------------------------------------------


def test_writing_off_and_barely_compiled(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PYTHONDONTWRITEBYTECODE and no caches: every start compiles; the fix compiles them."""
    exe, site = venv
    code, report = doctor(capsys, "--python", exe, "--check")
    assert code == 1
    warning = finding(report, "writing-off")
    assert warning["severity"] == "warning" and warning["location"] == str(site)
    assert warning["message"] == (
        "bytecode writing is off (PYTHONDONTWRITEBYTECODE=1) and only 0 of 11 sources in"
        f" site-packages ({site}) have a cache {report['tag']} loads: every start compiles"
        " them again"
    )
    assert warning["fix"] == f"pycache-tool compile --site-packages --python {exe}"
    assert doctor(capsys, "--python", exe)[0] == 0, "without --check a warning exits 0"

    # Writing on: import keeps what it compiles, so there is nothing to warn about.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    before = snapshot(site)
    code, report = doctor(capsys, "--python", exe, "--check")
    assert (code, codes(report)) == (0, [])
    assert snapshot(site) == before, "doctor wrote or removed something"
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")

    run_fix(capsys, monkeypatch, warning["fix"])
    code, report = doctor(capsys, "--python", exe, "--check")
    assert (code, codes(report)) == (0, [])
    assert report["locations"][0]["fresh"] == 11


def test_low_means_fewer_than_half(
    venv: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented threshold: 5 of 11 fresh warns, 6 of 11 does not."""
    exe, site = venv
    compile_some = "import py_compile, sys\nfor p in sys.argv[1:]: py_compile.compile(p)\n"
    modules = [str(site / "pkg" / f"m{n}.py") for n in range(6)]
    subprocess.run([exe, "-c", compile_some, *modules[:5]], check=True)
    assert codes(doctor(capsys, "--python", exe)[1]) == ["writing-off"]
    subprocess.run([exe, "-c", compile_some, modules[5]], check=True)
    code, report = doctor(capsys, "--python", exe, "--check")
    assert (code, report["locations"][0]["fresh"], codes(report)) == (0, 6, [])


def test_caches_only_at_another_optimization_level(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compiled for -O, run without it: the opt-1 caches are never read."""
    exe, site = venv
    assert cli(capsys, "compile", "--site-packages", "--python", exe, "-O", "1")[0] == 0
    code, report = doctor(capsys, "--python", exe, "--check")
    assert code == 1
    warning = finding(report, "other-level")
    tag = report["tag"]
    assert warning["message"] == (
        f"11 of 11 sources in site-packages ({site}) have a cache for level 1 (-O), but {tag}"
        " runs at level 0 (no -O) and never reads them (0 have one for its level)"
    )
    levels = report["locations"][0]["levels"]
    assert levels == {"1": {"files": 11, "fresh": 11, "bytes": levels["1"]["bytes"],
                            "invalidation": {"timestamp": 11}}}  # fmt: skip
    # Run with -O, the same caches are the right ones.
    code, report = doctor(capsys, "--python", f"{exe} -O", "--check")
    assert (code, codes(report)) == (0, [])
    run_fix(capsys, monkeypatch, warning["fix"])
    code, report = doctor(capsys, "--python", exe, "--check")
    assert (code, codes(report)) == (0, [])


def test_fix_keeps_the_level_of_an_interpreter_started_with_options(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--python "python -OO"``: compile asks the bare executable, so the fix names the level."""
    exe, _ = venv
    _, report = doctor(capsys, "--python", f"{exe} -OO")
    fix = finding(report, "writing-off")["fix"]
    assert fix == f"pycache-tool compile --site-packages --python {exe} -O 2"
    run_fix(capsys, monkeypatch, fix)
    code, report = doctor(capsys, "--python", f"{exe} -OO", "--check")
    assert (code, codes(report)) == (0, [])


def test_stale_caches_that_load_anyway(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unchecked-hash pyc of an edited source: the old code runs."""
    exe, site = venv
    args = ["--site-packages", "--python", exe, "--invalidation-mode", "unchecked-hash"]
    assert cli(capsys, "compile", *args)[0] == 0
    assert codes(doctor(capsys, "--python", exe)[1]) == []
    write(site / "pkg" / "m3.py", "VALUE = 'edited'\n")
    code, report = doctor(capsys, "--python", exe, "--check")
    assert code == 1
    warning = finding(report, "stale-loaded")
    assert warning["message"] == (
        f"1 cache in site-packages ({site}) is stale, but {report['tag']} loads it anyway:"
        " it never verifies unchecked-hash pycs, so old code runs"
    )
    assert report["locations"][0]["stale_loaded"] == 1
    # Run with -O, it reads other caches (there are none): these stale ones do not load.
    assert "stale-loaded" not in codes(doctor(capsys, "--python", f"{exe} -O")[1])
    # The interpreter agrees: it runs the old value.
    old = subprocess.run(
        [exe, "-c", "import pkg.m3; print(pkg.m3.VALUE)"], capture_output=True, text=True
    )
    assert old.stdout == "3\n"
    run_fix(capsys, monkeypatch, warning["fix"])
    code, report = doctor(capsys, "--python", exe, "--check")
    assert (code, codes(report)) == (0, [])


def test_hash_checks_turned_off(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--check-hash-based-pycs never with checked-hash caches: edits go unnoticed."""
    exe, site = venv
    never = f"{exe} --check-hash-based-pycs never"
    assert codes(doctor(capsys, "--python", never)[1]) == ["writing-off"], "no hash pycs yet"
    args = ["--site-packages", "--python", exe, "--invalidation-mode", "checked-hash"]
    assert cli(capsys, "compile", *args)[0] == 0
    assert codes(doctor(capsys, "--python", exe)[1]) == []
    code, report = doctor(capsys, "--python", never, "--check")
    assert code == 1
    warning = finding(report, "hash-checks-off")
    assert warning["message"] == (
        f"{report['tag']} runs with --check-hash-based-pycs never: it does not verify its"
        " checked-hash pycs (11 here), so an edited source runs its old code"
    )
    assert warning["fix"] == f"start {exe} without --check-hash-based-pycs never"
    assert warning["location"] is None
    write(site / "pkg" / "m3.py", "VALUE = 'edited'\n")
    assert codes(doctor(capsys, "--python", never)[1]) == ["stale-loaded", "hash-checks-off"]
    assert codes(doctor(capsys, "--python", exe)[1]) == [], "the default mode checks them"


def test_prefix_makes_in_tree_caches_dead_weight(
    venv: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a pycache_prefix the __pycache__ directories are never read; the fix removes them
    and nothing in the prefix tree."""
    exe, site = venv
    assert cli(capsys, "compile", "--site-packages", "--python", exe)[0] == 0
    in_tree = caches(site)
    assert len(in_tree) == 11
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    code, report = doctor(capsys, "--python", exe, "--check")
    assert code == 1
    assert codes(report) == ["prefix-dead-weight"], "writing on: the prefix fills itself"
    location = report["locations"][0]
    assert location["writes_to"] == str(prefix) + str(site)
    assert (location["in_tree_files"], location["fresh"], location["files"]) == (11, 0, 0)
    assert location["in_tree_bytes"] == sum(p.stat().st_size for p in in_tree)
    warning = finding(report, "prefix-dead-weight")
    tag = report["tag"]
    assert warning["fix"] == (
        f"PYTHONPYCACHEPREFIX= pycache-tool clean --own --tag {tag} --no-ignore {site}"
    )
    # The prefix tree has caches of its own, which the fix must leave alone.
    assert cli(capsys, "compile", "--site-packages", "--python", exe)[0] == 0
    mirror = prefix / site.relative_to(site.anchor)
    mirrored = caches(mirror)
    assert len(mirrored) == 11
    # So must it leave the caches of other interpreters, which this prefix does not concern.
    other = "cpython-38" if tag != "cpython-38" else "cpython-39"
    others = [foreign_copy(pyc, pyc.name.replace(tag, other)) for pyc in in_tree[:3]]
    run_fix(capsys, monkeypatch, warning["fix"])
    assert caches(site) == others and caches(mirror) == mirrored
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    code, report = doctor(capsys, "--python", exe, "--check")
    assert (code, codes(report)) == (0, [])
    assert report["locations"][0]["fresh"] == 11


def test_relative_prefix(
    venv: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exe, _ = venv
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", "rel")
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    code, report = doctor(capsys, "--python", exe, "--check")
    assert code == 1 and codes(report) == ["relative-prefix"]
    assert report["settings"]["pycache_prefix"] == {
        "value": "rel",
        "resolved": str(tmp_path / "rel"),
        "from": "PYTHONPYCACHEPREFIX",
    }
    assert finding(report, "relative-prefix")["fix"] == (
        f"export PYTHONPYCACHEPREFIX={tmp_path / 'rel'}"
    )


def test_source_date_epoch_is_a_note(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reported, but no reason for --check to fail; an empty value means timestamp pycs."""
    exe, _ = venv
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")
    assert codes(doctor(capsys, "--python", exe)[1]) == []
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    code, report = doctor(capsys, "--python", exe, "--check")
    assert code == 0
    note = finding(report, "source-date-epoch")
    assert note["severity"] == "note" and note["fix"].startswith("unset SOURCE_DATE_EPOCH")
    code, out, _ = cli(capsys, "doctor", "--no-stdlib", "--python", exe, "-q")
    assert (code, out) == (0, ""), "--quiet prints warnings only"


def test_read_only_site_packages(venv: tuple[str, Path], tmp_path: Path) -> None:
    """Root can write anywhere but to a read-only mount: bind-mount site-packages read-only in
    a private mount namespace and run doctor there."""
    exe, site = venv
    unshare = shutil.which("unshare")
    if unshare is None or not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("needs root and unshare(1) for a private read-only bind mount")
    script = (
        'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" || exit 99\nshift; exec "$@"\n'
    )
    command = [sys.executable, "-m", "pycache_tool", "doctor", "--no-stdlib", "--python", exe]
    argv = [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(site)]
    argv += command
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)

    def run(*more: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*argv, *more], capture_output=True, text=True, env=env)
        if done.returncode == 99:
            pytest.skip(f"no read-only bind mount here: {done.stderr.strip()}")
        return done

    done = run("--format", "json", "--check")
    assert done.returncode == 1, done.stderr
    (report,) = json.loads(done.stdout)["interpreters"]
    location = report["locations"][0]
    assert (location["writable"], location["not_writable_because"]) == (
        False,
        "read-only file system",
    )
    assert codes(report) == ["not-writable"]
    warning = finding(report, "not-writable")
    assert warning["message"].startswith(
        f"site-packages ({site}) is not writable for this user (read-only file system) and"
        " only 0 of 11 sources have a cache"
    )
    assert warning["fix"] == f"pycache-tool compile --site-packages --python {exe}"
    done = run()
    assert done.returncode == 0
    assert "no (read-only file system)" in done.stdout
    # Outside that namespace the same directory is writable, and nothing is wrong.
    env["PYTHONDONTWRITEBYTECODE"] = ""
    outside = subprocess.run([*command, "--check"], capture_output=True, text=True, env=env)
    assert outside.returncode == 0, outside.stdout + outside.stderr


def test_unreadable_directory_exits_3(
    venv: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A directory that cannot be listed is reported, and the survey is incomplete."""
    exe, site = venv
    real_scandir = os.scandir
    refused = str(site / "pkg")

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), refused)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, report = doctor(capsys, "--python", exe)
    assert code == 3
    assert report["locations"][0]["unreadable"] == [
        {"path": refused, "reason": "Permission denied"}
    ]
    code, out, _ = cli(capsys, "doctor", "--no-stdlib", "--python", exe, "-q")
    assert code == 3 and f"  unreadable {refused}: Permission denied\n" in out


# --- output ----------------------------------------------------------------------------------


def test_text_quiet_verbose_and_several_interpreters(
    venv: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exe, site = venv
    other, _ = make_venv(tmp_path / "other")
    code, out, err = cli(capsys, "doctor", "--no-stdlib", "--python", exe, "--python", other)
    assert code == 0 and err == ""
    blocks = out.split("\n\n")
    tag = interpreters.query(exe).tag
    assert blocks[0].splitlines() == [
        f"{tag}: {exe}",
        f"  implementation         CPython {blocks[0].split('CPython ')[1].split()[0]}",
        f"  cache tag              {tag}",
        f"  magic number           {interpreters.query(exe).magic}",
        "  dont_write_bytecode    yes (from PYTHONDONTWRITEBYTECODE=1)",
        "  optimize               0",
        "  pycache_prefix         none",
        "  check_hash_based_pycs  default",
        "  SOURCE_DATE_EPOCH      unset",
    ]
    assert blocks[1].splitlines() == [
        "  location       writable  sources  fresh  coverage  size  path",
        f"  site-packages  yes            11      0        0%   0 B  {site}",
    ]
    assert blocks[2].splitlines() == [
        f"warning: bytecode writing is off (PYTHONDONTWRITEBYTECODE=1) and only 0 of 11 sources"
        f" in site-packages ({site}) have a cache {tag} loads: every start compiles them again",
        f"  fix: pycache-tool compile --site-packages --python {exe}",
    ]
    assert blocks[3].startswith(f"{tag}: {other}\n"), "one block per interpreter, in order"
    assert out.count("no warnings") == 1, "the second venv has no sources: nothing to warn of"

    code, out, _ = cli(capsys, "doctor", "--no-stdlib", "--python", exe, "--python", other, "-q")
    assert out.splitlines() == [
        f"{tag}: warning: bytecode writing is off (PYTHONDONTWRITEBYTECODE=1) and only 0 of 11"
        f" sources in site-packages ({site}) have a cache {tag} loads: every start compiles"
        " them again",
        f"  fix: pycache-tool compile --site-packages --python {exe}",
    ]

    assert cli(capsys, "compile", "--site-packages", "--python", exe, "-O", "0", "-O", "2")[0] == 0
    code, out, _ = cli(capsys, "doctor", "--no-stdlib", "--python", exe, "-v")
    assert "      level 0, the level it runs at: 11 files (" in out
    assert "), 11 fresh, timestamp 11\n      level 2: 11 files (" in out
    assert out.rstrip().splitlines()[-1].endswith(" s)")
    assert "\033[" not in out, "colour only on a terminal"


def test_colour(venv: tuple[str, Path]) -> None:
    """Colour when asked for (cli.py asks style.use_color): the warning label, the coverage."""
    exe, _ = venv
    diagnosis = diagnose(exe, stdlib=False)
    painted = doctor_text([diagnosis], color=True)
    assert "\033[33mwarning:\033[0m bytecode writing is off" in painted
    assert "\033[33m      0%\033[0m" in painted, "low coverage in yellow"
    plain = doctor_text([diagnosis])
    assert "\033[" not in plain and "warning: bytecode writing is off" in plain


def test_json_fields(venv: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The documented schema, and the same numbers as the text report."""
    exe, site = venv
    code, doc = cli_json(capsys, "doctor", "--no-stdlib", "--python", exe)
    assert code == 0
    assert set(doc) == {"schema", "command", "interpreters", "summary"}
    assert doc["summary"] == {"warnings": 1, "notes": 0, "unreadable": 0}
    (report,) = doc["interpreters"]
    assert set(report) == {
        "name", "command", "executable", "implementation", "version", "full_version",
        "python", "tag", "magic", "settings", "locations", "findings", "seconds",
    }  # fmt: skip
    assert set(report["settings"]) == {
        "dont_write_bytecode", "optimize", "pycache_prefix", "check_hash_based_pycs",
        "source_date_epoch", "ignore_environment",
    }  # fmt: skip
    (location,) = report["locations"]
    assert location == {
        "kind": "site-packages",
        "path": str(site),
        "writes_to": str(site),
        "writable": True,
        "not_writable_because": None,
        "sources": 11,
        "fresh": 0,
        "files": 0,
        "bytes": 0,
        "levels": {},
        "stale_loaded": 0,
        "in_tree_files": 0,
        "in_tree_bytes": 0,
        "unreadable": [],
    }
    assert set(report["findings"][0]) == {"code", "severity", "location", "message", "fix"}


def test_modules_in_the_working_directory_do_not_answer(
    venv: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``python -c`` puts the working directory first on sys.path: a project's json.py must
    not stand in for the standard library's in the probe."""
    exe, _ = venv
    write(tmp_path / "work" / "json.py", "raise SystemExit('the wrong json')\n")
    monkeypatch.chdir(tmp_path / "work")
    code, report = doctor(capsys, "--python", exe)
    assert code == 0 and report["tag"] == interpreters.query(exe).tag


def test_configured_python_is_the_default(
    venv: tuple[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """[tool.pycache-tool] python names the targets of every command, doctor's too."""
    exe, _ = venv
    write(tmp_path / "proj" / "pyproject.toml", f"[tool.pycache-tool]\npython = [{exe!r}]\n")
    monkeypatch.chdir(tmp_path / "proj")
    code, report = doctor(capsys)
    assert report["command"] == [exe]
