"""Sections "compile" and "compile-noop": ``pycache-tool compile`` against its peers.

"compile", a full compile from an empty cache of one copy of the target's own standard library
(``copy-1`` of the stdlib copies, without its caches, ~1,800 sources):

- ``pycache-tool compile WORK``: default jobs (the CPUs), start-up, walk and plan included;
- ``python -m compileall -q -j0 WORK``, run by the same interpreter;
- uv's bytecode compilation. uv has no "compile this directory" command, and
  ``uv pip install --compile-bytecode`` compiles only the files of the packages it has just
  installed, so the same sources are packed into one wheel (``.py`` files only, under
  ``benchcorpus/``) and installed offline into a venv of the same interpreter, with and
  without ``--compile-bytecode``. The difference, paired round by round, is uv's compile
  share; unpacking, resolution and uv's start-up are paired out.

Before every run the caches (or the installed package) are removed, untimed. The sources
that the interpreter cannot compile (the stdlib's deliberately broken test files) fail in
all three; uv does not report them.

"compile-noop", the same command when every cache is already fresh. The benchmark tree holds
sources the target cannot compile (newer versions' syntax, the stdlib's deliberately broken
test files), which both tools retry (and fail) on every run, so the no-op tree NOOP is a
hard-linked copy of the benchmark tree without them: every source in it has a fresh cache.
``pycache-tool compile NOOP`` against ``python -m compileall -q -j0`` and ``-j1`` (the ratio
checks), then both on the whole benchmark tree, failures retried (for reference).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Mapping

from harness import BenchError, Check, Context, Derived, Measure, Section, section, set_aside

WORK_NAME = "compile-work"
NOOP_NAME = "compile-noop"
VENV_NAME = "compile-uv-venv"
WHEEL = "benchcorpus-1.0-py3-none-any.whl"
# Exit 1 when some sources fail to compile, as some in every stdlib copy do.
_COMPILE_OK = frozenset({0, 1})


def _target_version(python: str) -> str:
    done = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _clear_caches(root: str) -> None:
    """ROOT without its ``__pycache__`` directories: set aside (``harness.set_aside``), all at
    once, then synced, so that no write-back of theirs falls in the timed run."""
    aside = []
    for directory, subdirs, _ in os.walk(root):
        if "__pycache__" in subdirs:
            subdirs.remove("__pycache__")
            aside.append(os.path.join(directory, "__pycache__"))
    if aside:
        holder = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(root)), prefix=".aside-")
        for index, path in enumerate(aside):
            os.rename(path, os.path.join(holder, str(index)))
        set_aside(holder)


def _make_work(source: str, work: str) -> int:
    """WORK: a copy of ``source`` without caches (mtimes kept), rebuilt when absent."""
    marker = os.path.join(work, ".complete")
    try:
        with open(marker, encoding="ascii") as f:
            made_from = f.read()
    except OSError:
        made_from = None
    if made_from != source + "\n":
        if os.path.lexists(work):
            shutil.rmtree(work)
        shutil.copytree(
            source, work, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        with open(marker, "w", encoding="ascii") as f:
            f.write(source + "\n")
    return sum(1 for _, _, files in os.walk(work) for name in files if name.endswith(".py"))


def _make_wheel(work: str, path: str) -> None:
    """Every ``.py`` of WORK, under ``benchcorpus/``, as a pure wheel uv can install offline."""
    made = os.path.join(work, ".complete")
    if os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(made):
        return  # built from this WORK
    dist = "benchcorpus-1.0.dist-info"
    records = []
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as wheel:

        def add(name: str, data: bytes) -> None:
            wheel.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append(f"{name},sha256={digest.decode()},{len(data)}")

        for directory, subdirs, files in os.walk(work):
            subdirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    full = os.path.join(directory, name)
                    with open(full, "rb") as f:
                        add("benchcorpus/" + os.path.relpath(full, work), f.read())
        add(f"{dist}/METADATA", b"Metadata-Version: 2.1\nName: benchcorpus\nVersion: 1.0\n")
        add(
            f"{dist}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        records.append(f"{dist}/RECORD,,")
        wheel.writestr(f"{dist}/RECORD", "\n".join(records) + "\n")
    os.replace(tmp, path)


def _find_uv(python: str) -> str | None:
    beside = os.path.join(os.path.dirname(python), "uv")
    return beside if os.access(beside, os.X_OK) else shutil.which("uv")


def _site_packages(venv_python: str) -> str:
    done = subprocess.run(
        [venv_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _uninstall(site: str) -> None:
    for name in ("benchcorpus", "benchcorpus-1.0.dist-info"):
        set_aside(os.path.join(site, name))


def uv_share(
    ctx: Context, uv: str, venv: str, wheel: str, tree: str, name: str
) -> tuple[list[Measure], Derived]:
    """uv installing the ``.py`` files of TREE (as one wheel, offline, no cache) into VENV with
    and without ``--compile-bytecode``, and the difference, paired per round: its compile
    share, with unpacking and start-up paired out. NAME goes into the rows' labels."""
    venv_python = os.path.join(venv, "bin", "python")
    if not os.access(venv_python, os.X_OK):
        subprocess.run([ctx.python, "-m", "venv", "--without-pip", venv], check=True)
    site = _site_packages(venv_python)
    _make_wheel(tree, wheel)
    install = (uv, "pip", "install", "--python", venv_python, "--offline", "--no-deps")
    env = {**ctx.env, "UV_NO_CACHE": "1", "UV_LINK_MODE": "copy"}

    def uninstall() -> None:
        _uninstall(site)

    suffix = f" {name}" if name else ""
    rows = [
        Measure(
            key,
            label + suffix + extra_label,
            (*install, *extra, wheel),
            frozenset({0}),
            env=env,
            cwd=ctx.bench_dir,
            prepare=uninstall,
        )
        for key, label, extra, extra_label in (
            ("uv-compile", "uv pip install --compile-bytecode", ("--compile-bytecode",), ""),
            ("uv-install", "uv pip install", (), " (no compile)"),
        )
    ]
    label = f"uv's compile share{suffix} (paired difference)"
    return rows, Derived("uv", label, "uv-compile", "uv-install")


@section("compile")
def compile_full(ctx: Context) -> Section:
    bench_root = ctx.bench_root
    version = _target_version(ctx.python)
    source = os.path.join(ctx.copies, "copy-1")
    work = os.path.join(bench_root, WORK_NAME)
    sources = _make_work(source, work)

    def clear() -> None:
        _clear_caches(work)

    def measure(
        key: str, label: str, *argv: str, prepare: Callable[[], None] | None = None
    ) -> Measure:
        return Measure(
            key, label, argv, _COMPILE_OK, env=ctx.env, cwd=ctx.bench_dir, prepare=prepare
        )

    measures = [
        measure("tool", "pycache-tool compile", ctx.tool, "compile", work, prepare=clear),
        measure(
            "compileall",
            "python -m compileall -q -j0",
            ctx.python,
            "-m",
            "compileall",
            "-q",
            "-j0",
            work,
            prepare=clear,
        ),
    ]
    checks = [
        Check(
            "compileall -j0 / pycache-tool",
            "compileall",
            "tool",
            1.3,
            at_most=False,
            row="cold compile: compileall -j0 / compile, one stdlib copy",
        )
    ]
    derived = []
    notes = [
        f"a full compile of {source} ({sources} .py) from an empty"
        f" cache, for {ctx.python} (Python {version}), {os.cpu_count()} CPUs",
    ]
    uv = _find_uv(ctx.python)
    if uv is None:
        notes.append("uv not found (make bench installs it from the bench extra): uv skipped")
    else:
        uv_rows, share = uv_share(
            ctx, uv, os.path.join(bench_root, VENV_NAME), os.path.join(bench_root, WHEEL), work, ""
        )
        measures += uv_rows
        derived.append(share)
        uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout
        checks.append(
            Check(
                "uv compile share / pycache-tool",
                "uv",
                "tool",
                1.1,
                at_most=False,
                row="cold compile: uv's compile share / compile, one stdlib copy",
            )
        )
        notes.append(
            f"uv: {uv_version.strip()}, installing the same .py files as one wheel, offline,"
            " no cache; its compile share = with --compile-bytecode minus without, per round"
        )
    return Section(
        name="compile",
        title="full compile: pycache-tool vs compileall -j0 vs uv",
        measures=measures,
        checks=checks,
        notes=notes,
        derived=derived,
        per_item=(sources, "source"),
    )


def _make_noop(ctx: Context, noop: str) -> int:
    """NOOP: the benchmark tree, hard-linked, less the sources the target cannot compile."""
    marker = os.path.join(noop, ".complete")
    manifest = ctx.tree + ".json"  # rewritten whenever the tree is rebuilt
    stamp = str(os.stat(manifest if os.path.exists(manifest) else ctx.tree).st_mtime_ns)
    try:
        with open(marker, encoding="ascii") as f:
            saved, count = f.read().split("\n")
        if saved == stamp:
            return int(count)
    except (OSError, ValueError):
        pass
    if os.path.lexists(noop):
        shutil.rmtree(noop)
    shutil.copytree(ctx.tree, noop, symlinks=True, copy_function=os.link)
    done = subprocess.run(
        [ctx.tool, "compile", "--dry-run", "--format", "json", noop],
        capture_output=True,
        text=True,
        env=dict(ctx.env),
        check=False,
    )
    try:
        planned = json.loads(done.stdout)["planned"]
    except (ValueError, KeyError, TypeError):
        raise BenchError(f"compile --dry-run on {noop} failed: {done.stderr[-500:]}") from None
    for item in planned:
        os.unlink(item["source"])  # only this copy's link goes
    with open(marker, "w", encoding="ascii") as f:
        f.write(f"{stamp}\n{len(planned)}")
    return len(planned)


@section("compile-noop")
def compile_noop(ctx: Context) -> Section:
    tree = ctx.tree
    noop = os.path.join(os.path.dirname(tree), NOOP_NAME)
    removed = _make_noop(ctx, noop)

    def measure(key: str, label: str, *argv: str) -> Measure:
        return Measure(key, label, argv, _COMPILE_OK, env=ctx.env, cwd=ctx.bench_dir)

    compileall = (ctx.python, "-m", "compileall", "-q")
    measures = [
        measure("tool", "pycache-tool compile", ctx.tool, "compile", noop),
        measure("compileall-j1", "python -m compileall -q -j1", *compileall, "-j1", noop),
        measure("compileall-j0", "python -m compileall -q -j0", *compileall, "-j0", noop),
        measure("tool-all", "pycache-tool compile (whole tree)", ctx.tool, "compile", tree),
        measure("compileall-all", "compileall -q -j0 (whole tree)", *compileall, "-j0", tree),
    ]
    return Section(
        name="compile-noop",
        title="compile when every cache is already fresh: pycache-tool vs compileall",
        measures=measures,
        checks=[
            Check("compileall -j0 / pycache-tool", "compileall-j0", "tool", 5.0, at_most=False),
        ],
        notes=[
            f"NOOP: the benchmark tree fully compiled for {ctx.python}, less the {removed}"
            " sources it cannot compile; '(whole tree)': with them, retried every run",
            "compileall -j1 (no target) reads 12 header bytes per source; pycache-tool also"
            " checks the size, the flags and the mode, and starts a CLI",
        ],
        inspect=_inspect_noop,
    )


def _inspect_noop(outputs: Mapping[str, bytes]) -> list[str]:
    lines = outputs["tool"].decode(errors="replace").strip().splitlines()
    return ["pycache-tool said: " + (lines[-1] if lines else "(nothing)")]
