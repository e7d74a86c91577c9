"""`audit` of wheels, sdists and zips: leaks in distributions, and zipimport's verdicts.

The zipimport verdicts are proven against the real interpreters: each one writes its own
bytecode of ``VALUE = 1`` under headers chosen per case, the zip holds ``VALUE = 2`` as the
source beside it (same length), the interpreter imports from the zip on ``sys.path``, and the
value it prints says whether the pyc was used. The tool's ``loads`` must agree.

The distributions are real builds where the machine can make them offline: setuptools'
``sdist`` and ``pip wheel --no-build-isolation`` of a tiny project whose package directory holds
``__pycache__`` (``graft`` in MANIFEST.in with ``include_package_data``: how real leaks happen),
and the same project with ``global-exclude *.py[cod]`` (the fix).
"""

from __future__ import annotations

import dataclasses
import glob
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pycache_tool import archives
from pycache_tool.archives import Archive, Entry, inspect
from pycache_tool.bytecode.interpreters import CheckHashMode, query

from .conftest import INTERPRETERS, cli, cli_json, interpreter_params, run_python, write

DT = (2023, 11, 14, 22, 13, 20)  # DOS dates have 2 s steps: an even second
DOS_MTIME = int(time.mktime((*DT, -1, -1, -1)))  # how zipimport reads DT (local time)
OLD, NEW = "VALUE = 1\n", "VALUE = 2\n"  # in the pyc, in the source: same length

# Runs inside each interpreter (2.7 on): its own code object for OLD under the headers asked
# for in $SPEC: {name: [mtime, size, hash_of or null, checked]}. Hashes come from the
# interpreter's own importlib.util.source_hash.
GENERATE = r"""
import binascii, json, marshal, os, struct, sys
try:
    import importlib.util as util
    magic = util.MAGIC_NUMBER
except (ImportError, AttributeError):
    import imp
    magic = imp.get_magic()
spec = json.loads(os.environ["SPEC"])
code = marshal.dumps(compile(spec["old"], "m.py", "exec"))
pycs = {}
for name, (mtime, size, hash_of, checked) in spec["cases"].items():
    if hash_of is not None:
        head = magic + struct.pack("<I", 3 if checked else 1) + util.source_hash(hash_of.encode())
    elif sys.version_info >= (3, 7):
        head = magic + struct.pack("<III", 0, mtime, size)
    elif sys.version_info >= (3, 3):
        head = magic + struct.pack("<II", mtime, size)
    else:
        head = magic + struct.pack("<I", mtime)
    pycs[name] = binascii.hexlify(head + code).decode("ascii")
impl = getattr(sys, "implementation", None)
print(json.dumps({"tag": impl.cache_tag if impl else None, "pycs": pycs}))
"""

# Imports each module from the zip and prints what VALUE it got (or the exception's name).
IMPORT = r"""
import json, os, sys
sys.path.insert(0, os.environ["ZIP"])
seen = {}
for name in json.loads(os.environ["MODULES"]):
    try:
        seen[name] = __import__(name).VALUE
    except Exception as exc:
        seen[name] = type(exc).__name__
print(json.dumps(seen))
"""

HASH_CAPABLE = {"3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"}


def zip_cases(version: str) -> dict[str, list[Any]]:
    """Module name -> [stored mtime, stored size, hash of which source or None, checked]."""
    size = len(NEW)
    cases: dict[str, list[Any]] = {
        "m_match": [DOS_MTIME, size, None, False],
        "m_plus1": [DOS_MTIME + 1, size, None, False],  # DOS time's tolerance: used
        "m_minus1": [DOS_MTIME - 1, size, None, False],
        "m_plus2": [DOS_MTIME + 2, size, None, False],  # beyond it: the source is imported
        "m_plus3": [DOS_MTIME + 3, size, None, False],
        "m_size": [DOS_MTIME, size + 1, None, False],  # 3.8+ compare the size, older do not
        "m_sourceless": [0, 0, None, False],  # no .py beside it
        "m_cache": [DOS_MTIME, size, None, False],  # only in __pycache__, source beside
        "m_conly": [DOS_MTIME, size, None, False],  # only in __pycache__, no source
    }
    if version in HASH_CAPABLE:
        cases.update(
            m_checked_ok=[0, 0, NEW, True],
            m_checked_bad=[0, 0, OLD, True],
            m_unchecked_ok=[0, 0, NEW, False],
            m_unchecked_bad=[0, 0, OLD, False],  # stale, but used unless mode "always"
            m_checked_lone=[0, 0, OLD, True],  # hash pycs without a source
            m_unchecked_lone=[0, 0, OLD, False],
        )
    return cases


def build_zip(exe: str, version: str, path: Path) -> dict[str, str]:
    """The zip of every case for ``exe``; returns module name -> member name of its pyc."""
    cases = zip_cases(version)
    done = run_python(exe, GENERATE, env={"SPEC": json.dumps({"old": OLD, "cases": cases})})
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    members: dict[str, str] = {}
    with zipfile.ZipFile(path, "w") as zf:
        for module, pyc in made["pycs"].items():
            data = bytes.fromhex(pyc)
            if module in ("m_cache", "m_conly"):
                if made["tag"] is None:
                    continue  # Python 2 has no __pycache__
                member = f"__pycache__/{module}.{made['tag']}.pyc"
            else:
                member = f"{module}.pyc"
            members[module] = member
            zf.writestr(zipfile.ZipInfo(member, DT), data)
            if module not in ("m_sourceless", "m_conly") and not module.endswith("_lone"):
                zf.writestr(zipfile.ZipInfo(f"{module}.py", DT), NEW)
    return members


def observe(exe: str, zip_path: Path, modules: list[str], flags: list[str]) -> dict[str, Any]:
    env = {"ZIP": str(zip_path), "MODULES": json.dumps(modules)}
    done = run_python(exe, IMPORT, env=env, args=["-B", *flags])
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


MODES: dict[CheckHashMode, list[str]] = {
    "default": [],
    "always": ["--check-hash-based-pycs", "always"],
    "never": ["--check-hash-based-pycs", "never"],
}


@pytest.mark.parametrize("exe", interpreter_params())
def test_zipimport_verdicts_match_the_real_interpreter(exe: str, tmp_path: Path) -> None:
    version = next(v for v, e in INTERPRETERS.items() if e == exe)
    zip_path = tmp_path / "app.zip"
    members = build_zip(exe, version, zip_path)
    target = query(exe)
    modes: list[CheckHashMode] = list(MODES) if version in HASH_CAPABLE else ["default"]
    for mode in modes:
        seen = observe(exe, zip_path, list(members), MODES[mode])
        judged = inspect(str(zip_path), [dataclasses.replace(target, check_hash_based_pycs=mode)])
        assert judged.kind == "zip" and judged.error is None
        by_name = {e.name: e for e in judged.entries}
        assert set(by_name) == set(members.values())
        for module, member in members.items():
            used = seen[module] == 1  # OLD ran: the pyc was used; NEW or an error: it was not
            entry = by_name[member]
            assert entry.loads is used, (mode, module, seen[module], entry)
            assert entry.finding is (entry.status in ("stale", "ignored", "corrupt"))
        if mode == "default":
            status = {module: by_name[member].status for module, member in members.items()}
            assert status["m_match"] == status["m_plus1"] == status["m_minus1"] == "fresh"
            assert status["m_plus3"] == "stale"
            assert status["m_sourceless"] == "sourceless"
            if "m_cache" in members:
                assert status["m_cache"] == status["m_conly"] == "ignored"
            if "m_unchecked_bad" in members:
                unchecked = by_name[members["m_unchecked_bad"]]
                assert (unchecked.status, unchecked.loads) == ("stale", True)  # old code runs
                assert unchecked.finding


def test_zipimport_sees_the_size_only_from_38(tmp_path: Path) -> None:
    """The size field is compared by zipimport.py (3.8+), not by the C zipimport before it."""
    found = [v for v in ("3.6", "3.7", "3.8", "3.13") if v in INTERPRETERS]
    if not found:
        pytest.skip("no CPython 3.6-3.13 here")
    for version in found:
        zip_path = tmp_path / f"{version}.zip"
        members = build_zip(INTERPRETERS[version], version, zip_path)
        entry = {e.name: e for e in inspect(str(zip_path)).entries}[members["m_size"]]
        assert entry.loads is (version in ("3.6", "3.7")), entry


# -- distributions built for real --------------------------------------------------------------

SETUP = 'from setuptools import setup\nsetup(name="{name}", version="1.0", packages=["{name}"], include_package_data=True)\n'


def _can_build_sdist() -> bool:
    done = run_python(sys.executable, "import setuptools")
    return done.returncode == 0


def _wheel_package() -> str | None:
    """A PYTHONPATH entry that makes `wheel` (setuptools' bdist_wheel before 70.1) importable:
    "" when it is installed, else a wheel of it that a CPython test suite ships (a wheel is a
    zip, importable as it is); None when there is neither. Nothing is downloaded."""
    if run_python(sys.executable, "import wheel").returncode == 0:
        return ""
    shipped: list[str] = []
    for exe in INTERPRETERS.values():
        prefix = os.path.dirname(os.path.dirname(exe))
        pattern = os.path.join(prefix, "lib", "python3*", "test", "**", "wheel-*-py3-none-any.whl")
        shipped += glob.glob(pattern, recursive=True)
    return max(shipped) if shipped else None


def make_project(root: Path, name: str, *, leak: bool) -> Path:
    """A package whose directory holds real caches (compiled by this Python); ``leak``: the
    MANIFEST.in grafts the whole directory, as many projects do; else it excludes bytecode."""
    write(root / "setup.py", SETUP.format(name=name))
    manifest = f"graft {name}\n" + ("" if leak else "global-exclude *.py[cod]\n")
    write(root / "MANIFEST.in", manifest)
    write(root / name / "__init__.py", "VALUE = 1\n")
    write(root / name / "mod.py", "X = 2\n")
    done = run_python(
        sys.executable, f"import compileall; compileall.compile_dir({name!r}, quiet=1)", cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert len(list((root / name / "__pycache__").iterdir())) == 2
    return root


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real sdists, and real wheels where `wheel` can be had offline: leaky and clean."""
    if not _can_build_sdist():
        pytest.skip("setuptools is not installed in this Python")
    base = tmp_path_factory.mktemp("dists")
    out = base / "dist"
    leaky = make_project(base / "leaky", "leaky", leak=True)
    clean = make_project(base / "clean", "clean", leak=False)
    # A module fixture runs outside the per-test environment clean-up: start from a clean one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for project in (leaky, clean):
        done = subprocess.run(
            [sys.executable, "setup.py", "-q", "sdist", "-d", str(out)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stderr
    found = {
        "leaky.tar.gz": out / "leaky-1.0.tar.gz",
        "clean.tar.gz": out / "clean-1.0.tar.gz",
    }
    wheel = _wheel_package()
    if wheel is not None:
        pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        pip += ["--no-index", "-w", str(out), str(leaky), str(clean)]
        done = subprocess.run(
            pip,
            capture_output=True,
            text=True,
            timeout=300,
            env={**env, "PYTHONPATH": wheel, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        assert done.returncode == 0, done.stderr
        found["leaky.whl"] = out / "leaky-1.0-py3-none-any.whl"
        found["clean.whl"] = out / "clean-1.0-py3-none-any.whl"
    for path in found.values():
        assert path.is_file(), sorted(os.listdir(out))
    return found


def need_wheels(dists: dict[str, Path]) -> None:
    if "leaky.whl" not in dists:
        pytest.skip("no `wheel` package to be had offline for bdist_wheel")


def test_leaky_sdist_and_wheel_are_findings(
    dists: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    need_wheels(dists)
    code, doc = cli_json(
        capsys, "audit", "--check", str(dists["leaky.whl"]), str(dists["leaky.tar.gz"])
    )
    assert code == 1
    wheel, sdist = doc["archives"]
    assert (wheel["kind"], sdist["kind"]) == ("wheel", "sdist")
    tag = sys.implementation.cache_tag
    assert {e["name"] for e in wheel["entries"]} == {
        f"leaky/__pycache__/__init__.{tag}.pyc",
        f"leaky/__pycache__/mod.{tag}.pyc",
    }
    assert {e["name"] for e in sdist["entries"]} == {
        f"leaky-1.0/leaky/__pycache__/__init__.{tag}.pyc",
        f"leaky-1.0/leaky/__pycache__/mod.{tag}.pyc",
    }
    for entry in wheel["entries"] + sdist["entries"]:
        assert entry["status"] == "leaked" and entry["finding"] is True
        assert entry["tag"] == tag
        assert entry["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
        assert entry["invalidation"] == "timestamp" and entry["loads"] is None
        assert entry["source"] == entry["name"].replace("__pycache__/", "").replace(
            f".{tag}.pyc", ".py"
        )
    assert wheel["findings"] == sdist["findings"] == 2
    assert wheel["bytecode"]["files"] == 2 and wheel["bytecode"]["bytes"] > 32


def test_clean_builds_pass_check(
    dists: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["clean.tar.gz"] + (["clean.whl"] if "clean.whl" in dists else [])
    code, out, err = cli(capsys, "audit", "--check", *(str(dists[n]) for n in names))
    assert code == 0, out + err
    for name in names:
        assert f"{dists[name]}: {'wheel' if name.endswith('whl') else 'sdist'}, no bytecode" in out
    assert "cache files" not in out  # no directory was named, so none was scanned


def test_leaky_sdist_text_report(
    dists: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "audit", str(dists["leaky.tar.gz"]))
    assert code == 0  # findings fail only under --check
    tag = sys.implementation.cache_tag
    assert out.startswith("1 archive, 1 with bytecode that needs attention\n")
    assert "sdist, 2 bytecode files" in out and "leaked into the distribution" in out
    assert f"    leaked        leaky-1.0/leaky/__pycache__/mod.{tag}.pyc [{tag}]: " in out


# -- hand-made archives: what no build makes on purpose ---------------------------------------


def pyc_bytes(source: str = OLD, mtime: int = DOS_MTIME, size: int | None = None) -> bytes:
    """A timestamp pyc of this Python, with the header fields asked for."""
    import importlib.util
    import marshal

    code = marshal.dumps(compile(source, "m.py", "exec"))
    size = len(source) if size is None else size
    return importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, mtime, size) + code


def make_zip(path: Path, members: dict[str, bytes], prefix: bytes = b"") -> Path:
    with open(path, "wb") as f:
        f.write(prefix)
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(zipfile.ZipInfo(name, DT), data)
    return path


def entries(archive: Archive) -> dict[str, Entry]:
    return {e.name: e for e in archive.entries}


def test_zip_statuses(tmp_path: Path) -> None:
    tag = sys.implementation.cache_tag
    made = make_zip(
        tmp_path / "app.pyz",
        {
            "__main__.py": b"import app\n",
            "app/__init__.py": NEW.encode(),
            "app/__init__.pyc": pyc_bytes(),
            f"app/__pycache__/__init__.{tag}.pyc": pyc_bytes(),
            "app/old.pyo": pyc_bytes(),
            "app/short.py": NEW.encode(),
            "app/short.pyc": b"\x00\x01\r\n",
            "app/future.pyc": b"\xff\x7f\r\n" + bytes(40),
            "app/tmp.pyc.12345": pyc_bytes(),
            "app/data.txt": b"not bytecode",
        },
        prefix=b"#!/usr/bin/env python3\n",  # a zipapp: the zip follows a shebang line
    )
    archive = inspect(str(made))
    assert archive.kind == "zip" and archive.error is None
    found = {name: (e.status, e.loads) for name, e in entries(archive).items()}
    assert found == {
        "app/__init__.pyc": ("fresh", True),
        f"app/__pycache__/__init__.{tag}.pyc": ("ignored", False),
        "app/old.pyo": ("ignored", False),  # 3.5+ never read .pyo
        "app/short.pyc": ("corrupt", False),
        "app/future.pyc": ("unknown", None),
        "app/tmp.pyc.12345": ("ignored", False),
    }
    assert entries(archive)["app/__init__.pyc"].source == "app/__init__.py"
    assert (
        "never looks inside __pycache__"
        in entries(archive)[f"app/__pycache__/__init__.{tag}.pyc"].reason
    )
    assert {e.name for e in archive.findings} == {
        f"app/__pycache__/__init__.{tag}.pyc",
        "app/old.pyo",
        "app/short.pyc",
        "app/tmp.pyc.12345",
    }


def test_zip_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = make_zip(
        tmp_path / "good.zip", {"m.py": NEW.encode(), "m.pyc": pyc_bytes(size=len(NEW))}
    )
    code, out, err = cli(capsys, "audit", "--check", str(good))
    assert code == 0, out + err
    assert "zip, 1 bytecode file" in out and "1 used by zipimport, 0 not" in out
    dead = make_zip(tmp_path / "dead.egg", {"m.py": NEW.encode(), "m.pyc": pyc_bytes(mtime=5)})
    code, out, _ = cli(capsys, "audit", "--check", str(dead))
    assert code == 1
    assert "stale         m.pyc" in out and "zipimport allows 1 s" in out


def test_zip_sdist_is_an_sdist(tmp_path: Path) -> None:
    """An old-style .zip sdist (NAME-VERSION/PKG-INFO) carries bytecode as a leak, not for zipimport."""
    made = make_zip(
        tmp_path / "pkg-1.0.zip",
        {
            "pkg-1.0/PKG-INFO": b"Name: pkg\n",
            "pkg-1.0/pkg/m.py": b"",
            "pkg-1.0/pkg/m.pyc": pyc_bytes(),
        },
    )
    archive = inspect(str(made))
    assert archive.kind == "sdist"
    assert [(e.name, e.status, e.source) for e in archive.entries] == [
        ("pkg-1.0/pkg/m.pyc", "leaked", "pkg-1.0/pkg/m.py")
    ]


def test_tar_links_are_never_followed(tmp_path: Path) -> None:
    """Link members named like bytecode are listed as leaks, and their targets are not read."""
    secret = write(tmp_path / "secret.pyc", "not read")
    made = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(made, "w:gz") as tar:
        for name, kind, target in [
            ("evil-1.0/a.pyc", tarfile.SYMTYPE, str(secret)),
            ("evil-1.0/b.pyc", tarfile.LNKTYPE, "evil-1.0/real.pyc"),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
        real = pyc_bytes()
        info = tarfile.TarInfo("evil-1.0/real.pyc")
        info.size = len(real)
        tar.addfile(info, io.BytesIO(real))
    before = sorted(os.listdir(tmp_path))
    archive = inspect(str(made))
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted
    found = entries(archive)
    assert found["evil-1.0/a.pyc"].reason.endswith(f"(a symbolic link to {str(secret)!r})")
    assert found["evil-1.0/b.pyc"].reason.endswith("(a hard link to 'evil-1.0/real.pyc')")
    assert found["evil-1.0/a.pyc"].magic is None and found["evil-1.0/a.pyc"].size == 0
    assert found["evil-1.0/real.pyc"].magic is not None
    assert all(e.status == "leaked" for e in archive.entries)


def test_broken_archives_exit_3_over_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaky = make_zip(
        tmp_path / "x-1.0-py3-none-any.whl", {"x/__pycache__/m.cpython-312.pyc": pyc_bytes()}
    )
    broken = write(tmp_path / "broken.whl", "not a zip")
    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w:gz") as tar:
        data = pyc_bytes()
        info = tarfile.TarInfo("y-1.0/y.pyc")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("y-1.0/big.txt")
        info.size = 100_000
        tar.addfile(info, io.BytesIO(os.urandom(100_000)))
    truncated = tmp_path / "y-1.0.tar.gz"
    truncated.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    code, doc = cli_json(capsys, "audit", "--check", str(leaky), str(broken), str(truncated))
    assert code == 3  # an incomplete verdict wins over findings
    by_path = {a["path"]: a for a in doc["archives"]}
    assert by_path[str(broken)]["error"] == "File is not a zip file"
    assert by_path[str(truncated)]["error"].startswith("damaged or not a tar archive: ")
    assert [e["name"] for e in by_path[str(truncated)]["entries"]] == ["y-1.0/y.pyc"]  # read so far
    assert by_path[str(leaky)]["findings"] == 1
    code, out, _ = cli(capsys, "audit", str(broken))
    assert code == 3
    assert f"{broken}: wheel; unreadable: File is not a zip file" in out


def test_path_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = make_zip(tmp_path / "a.zip", {})
    link = tmp_path / "link.zip"
    link.symlink_to(real)
    notes = write(tmp_path / "notes.txt", "x")
    for path, message in [
        (tmp_path / "gone.whl", "gone.whl: no such file"),
        (notes, "notes.txt: not a directory or an archive (.whl, .zip"),
    ]:
        code, out, err = cli(capsys, "audit", str(path))
        assert code == 2 and out == ""
        assert err.startswith("pycache-tool: error: ") and message in err
        assert err.count("\n") == 1
    # A symlink named as a PATH is followed, as find, fd and rg do; the report names the link.
    code, out, err = cli(capsys, "audit", str(link))
    assert code == 0 and out.startswith("1 archive") and str(link) in out, err


def test_directories_and_archives_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    write(tree / "m.py", OLD)
    (tree / "__pycache__").mkdir()
    (tree / "__pycache__" / f"gone.{sys.implementation.cache_tag}.pyc").write_bytes(pyc_bytes())
    empty = make_zip(tmp_path / "e-1.0-py3-none-any.whl", {"e/__init__.py": b""})
    monkeypatch.chdir(tmp_path)
    code, doc = cli_json(capsys, "audit", "tree", "e-1.0-py3-none-any.whl")
    assert code == 0
    assert doc["paths"] == [str(tree)]
    assert [r["status"] for r in doc["records"]] == ["orphan"]
    assert doc["archives"] == [
        {
            "path": str(empty),
            "kind": "wheel",
            "error": None,
            "bytecode": {"files": 0, "bytes": 0},
            "findings": 0,
            "entries": [],
        }
    ]
    code, out, _ = cli(capsys, "audit", "--check", "tree", "e-1.0-py3-none-any.whl")
    assert code == 1  # the orphan in the tree
    assert "1 cache file," in out and "\n\n1 archive, no bytecode in them needs attention\n" in out
    # Archives only: the working directory (with its orphan) is not scanned.
    monkeypatch.chdir(tree)
    code, doc = cli_json(capsys, "audit", "--check", str(empty))
    assert code == 0 and doc["paths"] == [] and doc["records"] == []


def test_quiet_and_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leaky = make_zip(
        tmp_path / "l-1.0-py3-none-any.whl", {"l/__pycache__/m.cpython-312.pyc": pyc_bytes()}
    )
    clean = make_zip(tmp_path / "c-1.0-py3-none-any.whl", {"c/m.py": b""})
    _, out, _ = cli(capsys, "audit", "-q", str(leaky), str(clean))
    assert out.splitlines() == [
        "2 archives, 1 with bytecode that needs attention",
        f"  {leaky}: wheel, 1 bytecode file ({archives_size(leaky)}): leaked into the distribution"
        " (build from a clean tree, or exclude __pycache__ and *.py[co])",
    ]
    _, out, _ = cli(capsys, "audit", "-v", str(leaky))
    magic = int.from_bytes(pyc_bytes()[:2], "little")
    size = len(pyc_bytes())
    assert (
        f"l/__pycache__/m.cpython-312.pyc [cpython-312, magic {magic}, timestamp, {size} B]: "
        in out
    )


def archives_size(path: Path) -> str:
    from pycache_tool.reports.common import size

    return size(sum(e.size for e in inspect(str(path)).entries))


def test_split_paths(tmp_path: Path) -> None:
    whl = make_zip(tmp_path / "A.WHL", {})
    folder = tmp_path / "looks.zip"
    folder.mkdir()
    directories, found = archives.split_paths([str(whl), str(folder), str(whl)])
    assert directories == [str(folder)]  # a directory is walked, whatever its name
    assert found == [str(whl)]  # once, even when named twice
