"""`pycache-tool clean`: categories, emptied directories, dry run vs real run, prefix trees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pycache_tool import Status, scan
from pycache_tool.clean import Area, carry_out, plan
from pycache_tool.reports.common import size
from pycache_tool.scanning import classify
from tests.cleantrees import (
    FOREIGN_TAG,
    TAG,
    allocated,
    assert_removed,
    compile_here,
    foreign_copy,
    mixed_tree,
    size_in,
    snapshot,
)
from tests.conftest import INTERPRETERS, cli, cli_json, run_python, write


def clean(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return cli(capsys, "clean", *args)


def clean_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json(capsys, "clean", *args)


def planned_blocks(capsys: pytest.CaptureFixture[str], *args: str) -> int:
    """The blocks that the files and directories clean ARGS would remove take now."""
    code, doc = clean_json(capsys, "--dry-run", *args)
    assert code == 0
    return allocated(r["path"] for r in doc["removed"])


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    root = tmp_path / "proj"
    return root, mixed_tree(root)


def pycache(p: dict[str, Path], name: str) -> Path:
    return p[name].parent


# What each category removes from mixed_tree (files by name, then directories).
EVERY_CACHE = ["fresh", "foreign", "stale", "orphan", "corrupt", "debris", "legacy"]
GHOST_CACHES = ["old/mod.py", "old/sub/deep.py"]
EXPECTED: dict[str, list[str]] = {
    "stale": ["stale"],
    "orphans": ["orphan", *GHOST_CACHES, "dir:old/mod.py", "dir:old/sub/deep.py"],
    "legacy": ["legacy"],
    "corrupt": ["corrupt", "debris"],
    "foreign": ["foreign"],
    "ghosts": [*GHOST_CACHES, "dir:old/mod.py", "dir:old/sub/deep.py", "old/sub", "old"],
    "sourceless": ["sourceless"],
}


def resolve(root: Path, p: dict[str, Path], names: list[str]) -> set[Path]:
    out: set[Path] = set()
    for name in names:
        if name.startswith("dir:"):
            out.add(pycache(p, name[4:]))
        elif name in p:
            out.add(p[name])
        else:
            out.add(root / name)
    return out


@pytest.mark.parametrize("category", sorted(EXPECTED))
def test_each_category_removes_exactly_its_files(
    tree: tuple[Path, dict[str, Path]], category: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root, p = tree
    before = snapshot(root)
    code, out, err = clean(capsys, f"--{category}", str(root))
    assert code == 0, err
    assert_removed(before, snapshot(root), resolve(root, p, EXPECTED[category]))


def test_no_category_removes_every_cache_file_but_never_sourceless(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, p = tree
    before = snapshot(root)
    code, out, err = clean(capsys, str(root))
    assert code == 0, err
    expected = resolve(
        root, p, [*EVERY_CACHE, *GHOST_CACHES, "dir:fresh", "dir:old/mod.py", "dir:old/sub/deep.py"]
    )
    assert_removed(before, snapshot(root), expected)
    assert p["sourceless"].exists() and p["fresh.py"].exists()


def test_no_category_reads_no_cache_file_in_pycache(
    tree: tuple[Path, dict[str, Path]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no category a cache file in __pycache__ goes whatever its header says: none is
    opened. A .pyc elsewhere is read (only a known magic number may go); a category reads
    each header once."""
    root, p = tree
    read: list[str] = []
    real_read_head = classify.read_head

    def read_head(path: str) -> tuple[bytes, os.stat_result]:
        read.append(path)
        return real_read_head(path)

    monkeypatch.setattr(classify, "read_head", read_head)
    caches = {str(path) for path in root.rglob("__pycache__/*")}
    assert clean_json(capsys, "--stale", "--dry-run", str(root))[0] == 0
    assert sorted(set(read)) == sorted(read) and caches <= set(read)
    read.clear()
    code, doc = clean_json(capsys, str(root))
    assert code == 0
    assert {r["path"] for r in doc["removed"] if r["status"] == "cache"} == caches
    assert sorted(read) == sorted(str(p[name]) for name in ("legacy", "sourceless"))


def test_every_category_but_sourceless_never_implies_it(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, p = tree
    before = snapshot(root)
    flags = [f"--{c}" for c in EXPECTED if c != "sourceless"]
    assert clean(capsys, *flags, str(root))[0] == 0
    expected = set().union(*(resolve(root, p, EXPECTED[c]) for c in EXPECTED if c != "sourceless"))
    assert_removed(before, snapshot(root), expected)
    assert p["sourceless"].exists()
    # Named, it goes (and only it).
    before = snapshot(root)
    assert clean(capsys, "--sourceless", str(root))[0] == 0
    assert_removed(before, snapshot(root), [p["sourceless"]])


def test_categories_combine_as_a_union(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, p = tree
    before = snapshot(root)
    assert clean(capsys, "--stale", "--orphans", str(root))[0] == 0
    assert_removed(
        before, snapshot(root), resolve(root, p, EXPECTED["stale"] + EXPECTED["orphans"])
    )


def test_foreign_follows_the_targets(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, p = tree
    # --python naming the running interpreter: the same targets as the default.
    _, doc = clean_json(capsys, "--foreign", "--dry-run", "--python", sys.executable, str(root))
    assert [r["path"] for r in doc["removed"]] == [str(p["foreign"])]
    # Both tags are targets: nothing is foreign.
    _, doc = clean_json(capsys, "--foreign", "-n", "--tag", FOREIGN_TAG, "--tag", TAG, str(root))
    assert doc["removed"] == []
    # Only 3.8 is a target: every cache of this interpreter is foreign, whatever its status;
    # the 3.8 cache stays, so its __pycache__ does too; sourceless code is never foreign.
    before = snapshot(root)
    code, out, err = clean(capsys, "--foreign", "--tag", FOREIGN_TAG, str(root))
    assert code == 0, err
    expected = resolve(
        root,
        p,
        ["fresh", "stale", "orphan", "corrupt", "debris", "legacy", *GHOST_CACHES]
        + ["dir:old/mod.py", "dir:old/sub/deep.py"],
    )
    assert_removed(before, snapshot(root), expected)


def test_ghosts_are_removed_with_their_caches_but_not_their_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    write(root / "keep.py", "K = 1\n")
    compile_here(root / "keep.py")
    gone = write(root / "pkg" / "gone" / "m.py", "M = 1\n")
    compile_here(gone)
    gone.unlink()
    (root / "pkg" / "live.py").write_text("L = 1\n")  # pkg itself is not a ghost
    before = snapshot(root)
    code, out, err = clean(capsys, "--ghosts", str(root))
    assert code == 0, err
    ghost = root / "pkg" / "gone"
    expected = {ghost, ghost / "__pycache__", ghost / "__pycache__" / f"m.{TAG}.pyc"}
    assert_removed(before, snapshot(root), expected)
    assert "ghost/" in out and "removed 1 file and 2 directories" in out


def test_a_ghost_that_stays_still_loses_its_emptied_subdirectories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the hostile-tree property test: a ghost kept by a directory inside its
    __pycache__ (Python makes none there) used to keep whichever of its emptied
    subdirectories came after that one in the directory listing."""
    root = tmp_path / "proj"
    ghost = root / "old"
    cache = compile_here(write(ghost / "m.py", "M = 1\n"))
    (cache.parent / "keeps-it").mkdir()
    subdirectories = [ghost / f"sub{n}" for n in range(8)]
    for sub in subdirectories:
        compile_here(write(sub / "m.py", "M = 1\n"))
    for source in ghost.rglob("*.py"):
        source.unlink()
    before = snapshot(root)
    code, out, err = clean(capsys, "--ghosts", str(root))
    assert code == 0, err
    expected = {cache}
    for sub in subdirectories:
        expected |= {sub, sub / "__pycache__", compile_target(sub / "m.py")}
    assert_removed(before, snapshot(root), expected)
    assert "removed 9 files and 16 directories" in out


def test_pycache_dirs_left_empty_are_removed_others_stay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    a = write(root / "a" / "m.py", "M = 1\n", mtime=1_600_000_000)
    compile_here(a)
    write(a, "M = 22\n", mtime=1_600_000_100)  # stale
    b = write(root / "b" / "m.py", "M = 1\n", mtime=1_600_000_000)
    compile_here(b)
    write(b, "M = 22\n", mtime=1_600_000_100)
    compile_here(write(root / "b" / "n.py", "N = 1\n"))  # fresh: b/__pycache__ stays
    empty_already = root / "c" / "__pycache__"
    empty_already.mkdir(parents=True)  # nothing was removed from it: not clean's business
    before = snapshot(root)
    assert clean(capsys, "--stale", str(root))[0] == 0
    assert_removed(
        before, snapshot(root), {a.parent / "__pycache__", compile_target(a), compile_target(b)}
    )


def compile_target(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"


@pytest.mark.parametrize("args", [[], ["--stale", "--orphans", "--ghosts"], ["--corrupt"]])
def test_dry_run_json_is_exactly_the_real_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    root = tmp_path / "proj"
    mixed_tree(root)
    before = snapshot(root)
    code, planned = clean_json(capsys, "--dry-run", *args, str(root))
    assert code == 0
    assert planned["dry_run"] is True
    assert snapshot(root) == before  # a dry run touches nothing
    code, done = clean_json(capsys, *args, str(root))
    assert code == 0
    assert done["dry_run"] is False
    assert planned["removed"] == done["removed"]
    assert planned["summary"] == done["summary"]
    assert planned["removed"], "the plan should not be empty"
    assert done["skipped"] == done["failed"] == done["unreadable"] == []
    gone = {r["path"] for r in done["removed"]}
    assert_removed(before, snapshot(root), gone)
    assert done["summary"]["files"] == sum(1 for r in done["removed"] if r["kind"] == "file")
    assert done["summary"]["directories"] == sum(
        1 for r in done["removed"] if r["kind"] == "directory"
    )
    assert done["summary"]["bytes"] == sum(
        size_in(before, r["path"]) for r in done["removed"] if r["kind"] == "file"
    )


def test_dry_run_text_is_exactly_the_real_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    mixed_tree(root)
    monkeypatch.chdir(root)
    before = snapshot(root)
    freed = size(planned_blocks(capsys, "--ghosts", "--stale", "."))
    code, planned, _ = clean(capsys, "--dry-run", "--ghosts", "--stale", ".")
    assert code == 0 and snapshot(root) == before
    code, done, _ = clean(capsys, "--ghosts", "--stale", ".")
    assert code == 0
    would = planned.splitlines()
    did = done.splitlines()
    assert [line.replace("would remove", "removed", 1) for line in would[:-1]] == did[:-1]
    assert all(line.startswith("would remove ") for line in would[:-1])
    assert did[-1] == f"removed 3 files and 4 directories, {freed} freed"
    assert would[-1] == f"would remove 3 files and 4 directories, {freed} would be freed"
    assert f"removed stale      pkg/__pycache__/stale.{TAG}.pyc" in did
    assert "removed ghost/     old" in did


def test_real_run_reports_what_it_removed(
    tree: tuple[Path, dict[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, p = tree
    freed = size(planned_blocks(capsys, "--stale", "--orphans", str(root)))
    code, out, _ = clean(capsys, "--stale", "--orphans", str(root))
    assert code == 0
    lines = out.splitlines()
    assert any(
        line.endswith(f"stale.{TAG}.pyc") and line.startswith("removed stale") for line in lines
    )
    assert any(
        line.startswith("removed orphan") and line.endswith(f"gone.{TAG}.pyc") for line in lines
    )
    assert lines[-1] == f"removed 4 files and 2 directories, {freed} freed"
    # --quiet: the totals only.
    code, out, _ = clean(capsys, "--quiet", str(root))
    assert code == 0
    assert len(out.splitlines()) == 1 and out.startswith("removed 5 files and 1 directory")


def test_nothing_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "m.py", "M = 1\n")
    code, out, _ = clean(capsys, str(tmp_path))
    assert code == 0
    assert out == "removed 0 files and 0 directories, 0 B freed\n"


def test_library_plan_and_carry_out(tree: tuple[Path, dict[str, Path]]) -> None:
    root, p = tree
    records = list(scan([root]))
    area = Area([str(root)], None)
    the_plan = plan(records, ["stale", "orphans"], area)
    assert not the_plan.unreadable
    files = [r.path for r in the_plan.removals if r.kind == "file"]
    dirs = [r.path for r in the_plan.removals if r.kind == "directory"]
    # Files first, then directories, deepest first.
    assert the_plan.removals[: len(files)] == [r for r in the_plan.removals if r.kind == "file"]
    assert dirs == sorted(dirs, key=lambda d: -d.count(os.sep))
    dry = carry_out(the_plan, area, dry_run=True)
    assert [r.path for r in dry.removed] == files + dirs
    assert all(Path(f).exists() for f in files)
    done = carry_out(the_plan, area, dry_run=False)
    assert done.removed == dry.removed and not done.skipped and not done.failed
    assert done.bytes == dry.bytes > 0
    assert not any(Path(f).exists() for f in files)
    with pytest.raises(ValueError):
        plan(records, ["stail"], area)
    assert p["fresh"].exists()


def test_missing_records_are_never_removed(tmp_path: Path) -> None:
    write(tmp_path / "m.py", "M = 1\n")
    records = list(scan([tmp_path], require_fresh=True))
    assert [r.status for r in records] == [Status.MISSING]
    assert plan(records, [], Area([str(tmp_path)], None)).removals == []


def prefix_tree(tmp_path: Path) -> tuple[Path, Path, dict[str, Path]]:
    prefix = tmp_path / "prefix"
    root = tmp_path / "src"
    kept = write(root / "pkg" / "kept.py", "K = 1\n")
    gone = write(root / "pkg" / "gone.py", "G = 1\n")
    mirror = prefix / str(root).lstrip(os.sep) / "pkg"
    p = {
        "fresh": compile_here(kept, cfile=mirror / f"kept.{TAG}.pyc"),
        "orphan": compile_here(gone, cfile=mirror / f"gone.{TAG}.pyc"),
    }
    gone.unlink()
    # Another project's mirror in the same prefix: not ours to touch.
    other = write(tmp_path / "other" / "o.py", "O = 1\n")
    p["other"] = compile_here(
        other, cfile=prefix / str(other.parent).lstrip(os.sep) / f"o.{TAG}.pyc"
    )
    other.unlink()
    return prefix, root, p


def test_pycache_prefix_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix, root, p = prefix_tree(tmp_path)
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, "--orphans", "--pycache-prefix", str(prefix), str(root))
    assert code == 0, err
    assert_removed(before, snapshot(tmp_path), [p["orphan"]])
    code, out, err = clean(capsys, "--pycache-prefix", str(prefix), str(root))
    assert code == 0, err
    # The mirror's directories are not __pycache__ directories: they stay, empty.
    assert_removed(before, snapshot(tmp_path), [p["orphan"], p["fresh"]])
    assert p["other"].exists()


def test_pycache_prefix_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, root, p = prefix_tree(tmp_path)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(prefix))
    before = snapshot(tmp_path)
    code, doc = clean_json(capsys, "--dry-run", str(root))
    assert code == 0
    assert sorted(r["path"] for r in doc["removed"]) == sorted([str(p["fresh"]), str(p["orphan"])])
    code, out, err = clean(capsys, "--orphans", str(root))
    assert code == 0, err
    assert_removed(before, snapshot(tmp_path), [p["orphan"]])


def test_pycache_prefix_inside_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix, root, p = prefix_tree(tmp_path)
    inner = root / ".pycache"
    shutil.copytree(prefix, inner)
    mirror = inner / str(root).lstrip(os.sep) / "pkg"
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, "--orphans", "--pycache-prefix", str(inner), str(root))
    assert code == 0, err
    assert_removed(before, snapshot(tmp_path), [mirror / f"gone.{TAG}.pyc"])


def test_foreign_copy_is_judged_as_foreign(tmp_path: Path) -> None:
    pyc = compile_here(write(tmp_path / "m.py", "M = 1\n"))
    foreign = foreign_copy(pyc, f"m.{FOREIGN_TAG}.pyc")
    by_path = {r.path: r for r in scan([tmp_path])}
    record = by_path[str(foreign)]
    assert record.python == "3.8" and record.status is Status.FRESH and not record.target


def test_reading_headers_leaves_access_times_alone(tmp_path: Path) -> None:
    """With relatime, a plain read of a fresh pyc (atime <= mtime) writes its inode."""
    pyc = compile_here(write(tmp_path / "m.py", "M = 1\n"))
    st = pyc.stat()
    os.utime(pyc, ns=(st.st_mtime_ns - 10**9, st.st_mtime_ns))
    before = pyc.stat().st_atime_ns
    assert [r.status for r in scan([tmp_path])] == [Status.FRESH]
    assert pyc.stat().st_atime_ns == before


@pytest.mark.skipif("2.7" not in INTERPRETERS, reason="Python 2.7 is not installed")
def test_python2_pyc_beside_its_source_is_foreign_not_legacy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `clean --help` says: Python 2's own .pyc beside the source goes with --foreign."""
    source = write(tmp_path / "m.py", "X = 1\n")
    done = run_python(
        INTERPRETERS["2.7"], f"import py_compile; py_compile.compile({str(source)!r})"
    )
    assert done.returncode == 0, done.stderr
    pyc = tmp_path / "m.pyc"
    assert clean(capsys, "--legacy", str(tmp_path))[0] == 0
    assert pyc.exists()
    assert clean(capsys, "--foreign", str(tmp_path))[0] == 0
    assert not pyc.exists() and source.exists()
    _, help_text, _ = clean(capsys, "--help")
    assert "Python 2's .pyc beside the source" in " ".join(help_text.split())


def test_removing_tracked_bytecode_says_how_to_untrack_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """git status would show the removed cache as deleted: clean warns and gives the command."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    tracked = compile_here(write(repo / "m.py", "M = 1\n"))
    untracked = compile_here(write(repo / "n.py", "N = 1\n"))
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "m.py", "n.py", str(tracked)], check=True)
    monkeypatch.chdir(repo)

    _, doc = cli_json(capsys, "clean", "--dry-run", ".")
    assert doc["tracked"] == [str(tracked)]
    code, out, err = clean(capsys, ".")
    assert code == 0 and not tracked.exists() and not untracked.exists()
    command = f"git rm -r --cached -- __pycache__/m.{TAG}.pyc"
    assert err == (
        "pycache-tool: warning: removed 1 file that git tracks (git status shows them as"
        f" deleted); untrack them, leaving them on disk: {command}\n"
    )
    subprocess.run([*git, *command.split()[1:]], check=True, capture_output=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    assert "__pycache__" not in status.stdout
    # Nothing tracked among the removals: no warning, and git is not asked.
    compile_here(repo / "n.py")
    assert clean(capsys, ".")[2] == ""


def test_freed_counts_the_blocks_given_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "freed" is the disk space a removal gives back, not the apparent size: a sparse 10 GiB
    cache frees its few blocks, a cache with another hard link frees nothing, an emptied
    __pycache__ frees its own blocks. ``size`` keeps the apparent size."""
    root = tmp_path / "proj"
    sparse = compile_here(write(root / "pkg" / "big.py", "B = 1\n"))
    (root / "pkg" / "big.py").unlink()
    with open(sparse, "r+b") as f:
        f.truncate(10 * 2**30)
    linked = compile_here(write(root / "pkg" / "linked.py", "L = 1\n"))
    (root / "pkg" / "linked.py").unlink()
    os.link(linked, tmp_path / "elsewhere.pyc")
    blocks = {str(p): os.lstat(p).st_blocks * 512 for p in (sparse, linked, sparse.parent)}
    assert blocks[str(sparse)] < 2**20  # sparse indeed
    freed = blocks[str(sparse)] + blocks[str(sparse.parent)]
    code, out, _ = clean(capsys, "--dry-run", "--orphans", str(root))
    assert out.endswith(f"would remove 2 files and 1 directory, {size(freed)} would be freed\n")
    code, doc = clean_json(capsys, "--orphans", str(root))
    assert code == 0
    removed = {r["path"]: (r["size"], r["freed"]) for r in doc["removed"]}
    assert removed == {
        str(sparse): (10 * 2**30, blocks[str(sparse)]),
        str(linked): (os.path.getsize(tmp_path / "elsewhere.pyc"), 0),
        str(sparse.parent): (0, blocks[str(sparse.parent)]),
    }
    assert doc["summary"]["bytes"] == 10 * 2**30 + os.path.getsize(tmp_path / "elsewhere.pyc")
    assert doc["summary"]["freed"] == freed
    assert (tmp_path / "elsewhere.pyc").exists()
