"""`clean` on adversarial trees: after each run EXACTLY the intended files are gone and every
other path is byte-for-byte what it was (type, bytes, mode, link target)."""

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

from pycache_tool import scan
from pycache_tool.clean import Area, Plan, Skip, carry_out, plan
from tests.cleantrees import TAG, assert_removed, compile_here, snapshot
from tests.conftest import cli, cli_json, write


def clean(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return cli(capsys, "clean", *args)


def clean_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    return cli_json(capsys, "clean", *args)


def orphan(directory: Path, stem: str) -> Path:
    """A cache whose source is gone, in ``directory/__pycache__``."""
    source = write(directory / f"{stem}.py", f"X = {stem!r}\n")
    pyc = compile_here(source)
    source.unlink()
    return pyc


def outside_tree(tmp_path: Path) -> Path:
    """Caches outside the tree that links inside it point at: they must survive everything."""
    outside = tmp_path / "outside"
    orphan(outside / "pkg", "far")
    compile_here(write(outside / "pkg" / "live.py", "L = 1\n"))
    orphan(outside / "cachedir_owner", "c")
    lone = write(outside / "lone.py", "S = 1\n")
    compile_here(lone, cfile=outside / "lone.pyc")
    lone.unlink()
    return outside


def is_path(path: Any, kwargs: dict[str, Any], wanted: Path) -> bool:
    """Does an os call with these arguments (a path, or a name with dir_fd) name ``wanted``?"""
    dir_fd = kwargs.get("dir_fd")
    named: str = os.fspath(path)
    if dir_fd is None:
        return named == str(wanted)
    return named == wanted.name and bool(os.path.samestat(os.fstat(dir_fd), os.stat(wanted.parent)))


def open_descriptors() -> set[str]:
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    return set(os.listdir(fd_dir))


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def adversarial(tmp_path: Path) -> tuple[Path, Path, set[Path], set[Path]]:
    """(root, outside, what `clean` must remove, what `clean --sourceless` must remove)."""
    root = tmp_path / "proj"
    outside = outside_tree(tmp_path)
    gone: set[Path] = set()
    pkg = root / "pkg"
    write(pkg / "live.py", "L = 1\n")
    gone.add(compile_here(pkg / "live.py"))
    gone.add(orphan(pkg, "dead"))
    # Links into the outside world, and links that go nowhere or round in circles.
    (root / "to_outside").symlink_to(outside, target_is_directory=True)
    (pkg / "to_outside_pkg").symlink_to(outside / "pkg", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    (root / "dangling").symlink_to(root / "nowhere")
    cache = pkg / "__pycache__"
    (cache / f"linked.{TAG}.pyc").symlink_to(outside / "pkg" / "__pycache__" / f"far.{TAG}.pyc")
    (cache / f"dangling.{TAG}.pyc").symlink_to(cache / f"nothing.{TAG}.pyc")
    # A symlinked __pycache__ (its "source" is gone too): never followed, never removed.
    linked_cache_dir = root / "linkedcache"
    linked_cache_dir.mkdir(parents=True)
    (linked_cache_dir / "__pycache__").symlink_to(
        outside / "cachedir_owner" / "__pycache__", target_is_directory=True
    )
    # A README inside a __pycache__ beside an orphan: the orphan goes, README and dir stay.
    withreadme = root / "withreadme"
    gone.add(orphan(withreadme, "o"))
    write(withreadme / "__pycache__" / "README", "do not delete\n")
    # Outside __pycache__ only files with a known magic go: a text notes.pyc stays.
    write(root / "notes.pyc", "shopping list\n")
    write(root / "data.pyo", "\x00\x01\x02\x03 not bytecode\n")
    # Sourceless importable code: only with --sourceless.
    lone = write(root / "lone.py", "S = 1\n")
    sourceless = compile_here(lone, cfile=root / "lone.pyc")
    lone.unlink()
    # Hostile names.
    for stem in ("with space", "new\nline", os.fsdecode(b"caf\xe9"), "-rf", "*"):
        gone.add(orphan(root / "names", stem))
    gone.add(root / "names" / "__pycache__")
    # Read-only file in a read-only-mode directory (root unlinks it anyway; see the
    # dedicated permission tests below for what happens when the unlink fails).
    ro = root / "ro"
    ro_pyc = orphan(ro, "r")
    ro_pyc.chmod(0o444)
    gone.add(ro_pyc)
    gone.add(ro_pyc.parent)
    # A .pyc that is a hard link is still a regular file: it goes; its twin elsewhere stays.
    # Every emptied __pycache__ goes, except those holding something else.
    for pyc in list(gone):
        if pyc.parent.name == "__pycache__" and pyc.parent not in (
            cache,
            withreadme / "__pycache__",
        ):
            gone.add(pyc.parent)
    return root, outside, gone, gone | {sourceless}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_clean_everything_on_an_adversarial_tree(
    adversarial: tuple[Path, Path, set[Path], set[Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    root, outside, gone, _ = adversarial
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, "--format", fmt, str(root))
    assert code == 0, err
    assert_removed(before, snapshot(tmp_path), gone)
    if fmt == "text":
        assert "new\\nline" in out and len(out.splitlines()) == len(gone) + 1


def test_every_category_on_an_adversarial_tree(
    adversarial: tuple[Path, Path, set[Path], set[Path]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, outside, _, gone = adversarial
    flags = ["--stale", "--orphans", "--legacy", "--corrupt", "--foreign", "--ghosts"]
    before = snapshot(tmp_path)
    code, planned = clean_json(capsys, "--dry-run", *flags, "--sourceless", str(root))
    assert code == 0 and snapshot(tmp_path) == before
    code, done = clean_json(capsys, *flags, "--sourceless", str(root))
    assert code == 0
    # names/ and ro/ hold nothing but caches: ghosts. linkedcache/ holds a symlink: no ghost.
    ghosts = {Path(r["path"]) for r in done["removed"] if r["status"] == "ghost"}
    assert ghosts == {root / "names", root / "ro"}
    assert planned["removed"] == done["removed"]
    # No category removes fresh caches: the fresh live.pyc stays.
    fresh = root / "pkg" / "__pycache__" / f"live.{TAG}.pyc"
    assert_removed(before, snapshot(tmp_path), (gone - {fresh}) | ghosts)


def test_links_are_never_followed_even_when_named_inside_a_ghost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ghost package whose __pycache__ holds a symlinked pyc: the link, and so the
    __pycache__ and the ghost, stay. A directory holding a link to a directory is no ghost."""
    root = tmp_path / "proj"
    outside = outside_tree(tmp_path)
    ghost = root / "ghost"
    real = orphan(ghost, "m")
    (real.parent / f"l.{TAG}.pyc").symlink_to(outside / "pkg" / "__pycache__" / f"far.{TAG}.pyc")
    deep = orphan(root / "notghost" / "sub", "n")
    (root / "notghost" / "sub" / "link_dir").symlink_to(outside, target_is_directory=True)
    before = snapshot(tmp_path)
    code, doc = clean_json(capsys, "--ghosts", str(root))
    assert code == 0
    assert_removed(before, snapshot(tmp_path), {real})
    assert [r["path"] for r in doc["removed"]] == [str(real)]
    # --orphans takes the cache in notghost/sub, and its emptied __pycache__.
    before = snapshot(tmp_path)
    assert clean(capsys, "--orphans", str(root))[0] == 0
    assert_removed(before, snapshot(tmp_path), {deep, deep.parent})


def test_symlinked_pycache_is_reported_and_never_cleaned_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python imports through a symlinked __pycache__ (it writes its caches there): audit
    names the link with a reason and --check fails; clean removes nothing through it."""
    root = tmp_path / "proj"
    source = write(root / "pkg" / "mod.py", "X = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "pkg" / "__pycache__").symlink_to("../../outside", target_is_directory=True)
    done = subprocess.run(
        [sys.executable, "-c", "import mod"],
        cwd=source.parent,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in outside.iterdir()] == [f"mod.{TAG}.pyc"]  # imports go through it
    orphan(outside, "far")  # and a dead cache there: no category may reach it
    link = root / "pkg" / "__pycache__"
    code, doc = cli_json(capsys, "audit", str(root))
    assert code == 0
    assert [(r["path"], r["status"], r["loads"], r["size"]) for r in doc["records"]] == [
        (str(link), "symlink", None, 0)
    ]
    assert "symlink" in doc["records"][0]["reason"]
    assert doc["summary"]["files"] == 0 and doc["summary"]["needs_attention"] == 1
    code, out, _ = cli(capsys, "audit", "--check", str(root))
    assert code == 1
    assert f"symlink       {link}: a symlink: imports read and write" in out
    before = snapshot(tmp_path)
    for flags in ([], ["--stale", "--orphans", "--ghosts", "--corrupt", "--foreign"]):
        code, cleaned = clean_json(capsys, *flags, str(root))
        assert (code, cleaned["removed"], cleaned["failed"]) == (0, [], [])
    assert_removed(before, snapshot(tmp_path), set())


def test_one_file_system_enters_no_other_device(tmp_path: Path) -> None:
    """By default clean crosses into a file system mounted below a PATH, as rm -r does; with
    --one-file-system it enters no directory on another device than the PATH, a mounted
    __pycache__ included, as find -xdev. Mounts need root: a private mount namespace
    (unshare -m) keeps them to the test, which is skipped where that is not permitted."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-m", "true"], capture_output=True).returncode:
        pytest.skip("no private mount namespace here (unshare -m needs root)")
    root = tmp_path / "proj"
    here = orphan(root / "pkg", "here")
    mounted = root / "pkg" / "mnt"  # a tmpfs is mounted here, and on cached/__pycache__
    mounted.mkdir()
    write(root / "cached" / "keep.py", "K = 1\n")
    (root / "cached" / "__pycache__").mkdir()
    template = orphan(tmp_path / "template", "far")
    tool = f"{shlex.quote(sys.executable)} -m pycache_tool clean --format json"
    q = {name: shlex.quote(str(path)) for name, path in {
        "mnt": mounted, "pyc": root / "cached" / "__pycache__", "root": root,
        "template": template, "out": tmp_path,
    }.items()}  # fmt: skip
    script = f"""
        mount -t tmpfs none {q["mnt"]} && mount -t tmpfs none {q["pyc"]} || exit 77
        mkdir {q["mnt"]}/__pycache__ && cp {q["template"]} {q["mnt"]}/__pycache__/
        cp {q["template"]} {q["pyc"]}/
        {tool} --one-file-system {q["root"]} > {q["out"]}/one.json
        ls {q["mnt"]}/__pycache__ {q["pyc"]} > {q["out"]}/left.txt
        umount {q["pyc"]}
        {tool} {q["root"]} > {q["out"]}/all.json
        ls -A {q["mnt"]} > {q["out"]}/after.txt
    """
    done = subprocess.run(
        [unshare, "-m", "--propagation", "private", "sh", "-ec", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode == 77:
        pytest.skip(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    one = json.loads((tmp_path / "one.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in one["removed"]] == [str(here), str(here.parent)]
    assert (tmp_path / "left.txt").read_text(encoding="utf-8").count(template.name) == 2
    everything = json.loads((tmp_path / "all.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in everything["removed"]] == [
        str(mounted / "__pycache__" / template.name),
        str(mounted / "__pycache__"),
    ]
    assert (tmp_path / "after.txt").read_text(encoding="utf-8") == ""
    assert [p.name for p in (root / "cached" / "__pycache__").iterdir()] == []  # under the mount


def test_git_branch_named_like_a_pyc_survives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.name", "t")
    git("config", "user.email", "t@example.com")
    write(repo / "m.py", "M = 1\n")
    git("add", "m.py")
    git("commit", "-q", "-m", "one")
    git("branch", "fix.pyc")
    git("branch", "fix.pyo")
    git("config", "core.packedRefs", "false")
    branch = repo / ".git" / "refs" / "heads" / "fix.pyc"
    assert branch.is_file()
    # Also a real cache file inside .git: never touched.
    hook = orphan(repo / ".git" / "hooks", "hook")
    dead = orphan(repo, "dead")
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, str(repo))
    assert code == 0, err
    assert_removed(before, snapshot(tmp_path), {dead, dead.parent})
    # Named as a PATH, .git still is not cleaned.
    before = snapshot(tmp_path)
    for path in (repo / ".git", repo / ".git" / "refs", repo / ".git" / "hooks"):
        code, doc = clean_json(capsys, "--sourceless", str(path))
        assert doc["removed"] == [], doc
        code, doc = clean_json(capsys, str(path))
        assert doc["removed"] == doc["skipped"] == [], doc
    assert snapshot(tmp_path) == before
    assert hook.exists()


def test_nothing_outside_the_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    inside = orphan(root / "sub", "a")
    sibling = orphan(root / "sub2", "b")  # a name that starts like the PATH
    parent_level = orphan(root, "c")
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, str(root / "sub"))
    assert code == 0, err
    assert_removed(before, snapshot(tmp_path), {inside, inside.parent})
    assert sibling.exists() and parent_level.exists()


def test_area_refuses_paths_outside_and_through_links(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    area = Area([str(root)], None)
    assert area.why_not(str(root / "pkg" / "x.pyc")) is None
    assert area.why_not(str(tmp_path / "proj2" / "x.pyc")) == "outside the scanned paths"
    assert area.why_not(str(root / "link" / "x.pyc")) is not None
    assert area.why_not(str(root / ".git" / "x.pyc")) == "inside .git"


def take_plan(root: Path, categories: list[str] | None = None) -> tuple[Plan, Area]:
    records = list(scan([root]))
    area = Area([str(root)], None)
    return plan(records, categories or [], area), area


def test_files_changed_between_scan_and_delete_stay(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    keep = orphan(root / "pkg", "keep")
    rewritten = orphan(root / "pkg", "rewritten")
    appended = orphan(root / "pkg", "appended")
    relinked = orphan(root / "pkg", "relinked")
    touched = orphan(root / "pkg", "touched")
    vanished = orphan(root / "pkg", "vanished")
    dir_swapped = orphan(root / "other", "x")
    the_plan, area = take_plan(root)
    # Between the plan and the removal: the interpreter rewrites one (atomically: a new
    # inode, as importlib does), something appends to another, a third becomes a symlink,
    # a fourth is rewritten in place with a new mtime, a fifth goes away, and a __pycache__
    # is swapped for a regular file.
    new = rewritten.with_suffix(".tmp")
    new.write_bytes(rewritten.read_bytes())
    os.replace(new, rewritten)
    with open(appended, "ab") as f:
        f.write(b"\0")
    relinked.unlink()
    relinked.symlink_to(keep)
    data = touched.read_bytes()
    touched.write_bytes(data)
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    vanished.unlink()
    shutil.rmtree(dir_swapped.parent)
    dir_swapped.parent.write_text("now a file\n")
    before = snapshot(tmp_path)
    outcome = carry_out(the_plan, area, dry_run=False)
    after = snapshot(tmp_path)
    assert_removed(before, after, {keep})
    reasons = {Path(s.path).name: s.reason for s in outcome.skipped}
    assert reasons[rewritten.name] == "changed since the scan"
    assert reasons[appended.name] == "changed since the scan"
    assert reasons[touched.name] == "changed since the scan"
    assert reasons[relinked.name] == "not a regular file any more"
    assert reasons[vanished.name] == "already gone"
    assert reasons[dir_swapped.name] in (
        "a directory on its path is not a directory any more",
        "Not a directory",  # without dir_fd support: lstat's ENOTDIR
    )
    assert {Path(s.path) for s in outcome.skipped} >= {dir_swapped.parent, dir_swapped}
    pycache_reason = next(s.reason for s in outcome.skipped if s.path == str(dir_swapped.parent))
    assert pycache_reason == "still holds what was not removed"
    assert not outcome.failed


@pytest.mark.parametrize("swap", ["package", "pycache", "root-child"])
def test_directory_swapped_for_a_symlink_between_plan_and_delete(
    tmp_path: Path, swap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "proj"
    pyc = orphan(root / "top" / "pkg", "m")
    the_plan, area = take_plan(root)
    assert {r.path for r in the_plan.removals} == {str(pyc), str(pyc.parent)}
    # Move the real directory outside the tree and leave a symlink to it in its place: the
    # planned paths now resolve to the same files, outside.
    moved = {"package": pyc.parent.parent, "pycache": pyc.parent, "root-child": root / "top"}[swap]
    elsewhere = tmp_path / "elsewhere" / moved.name
    elsewhere.parent.mkdir()
    shutil.move(str(moved), str(elsewhere))
    moved.symlink_to(elsewhere, target_is_directory=True)
    assert pyc.exists()  # through the link
    before = snapshot(tmp_path)
    outcome = carry_out(the_plan, area, dry_run=False)
    assert_removed(before, snapshot(tmp_path), set())
    assert not outcome.removed and not outcome.failed
    assert {s.path for s in outcome.skipped} == {str(pyc), str(pyc.parent)}


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_swapped_after_the_check_is_skipped_like_before_it(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last race: an entry swapped between its check and the removal itself (a
    __pycache__ for a symlink, a pyc for a directory). The removal meets it (rmdir: "Not a
    directory", unlink: "Is a directory") and the run skips it for the reason the check would
    have given, exit 0, as for the same swap before the check: one rule for both."""
    root = tmp_path / "proj"
    pyc = orphan(root / "pkg", "m")
    target = pyc.parent if kind == "directory" else pyc
    elsewhere = tmp_path / "elsewhere"
    real = {"directory": os.rmdir, "file": os.unlink}[kind]

    def swap_then_remove(path: Any, *args: Any, **kwargs: Any) -> None:
        if is_path(path, kwargs, target):
            if kind == "directory":
                shutil.move(str(target), str(elsewhere))
                target.symlink_to(elsewhere, target_is_directory=True)
            else:
                real(target)
                target.mkdir()
        real(path, *args, **kwargs)

    monkeypatch.setattr(os, "rmdir" if kind == "directory" else "unlink", swap_then_remove)
    code, doc = clean_json(capsys, str(root))
    reason = {"directory": "not a directory any more", "file": "not a regular file any more"}
    assert (code, doc["failed"]) == (0, [])
    assert {"path": str(target), "reason": reason[kind]} in doc["skipped"]
    if kind == "directory":
        assert target.is_symlink() and (elsewhere / pyc.name).exists() is False
        assert [r["path"] for r in doc["removed"]] == [str(pyc)]
    else:  # the file is skipped, so its __pycache__ stays: it still holds something
        assert target.is_dir() and doc["removed"] == []
        assert {"path": str(pyc.parent), "reason": "still holds what was not removed"} in doc[
            "skipped"
        ]


def test_permission_error_on_one_file_is_reported_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    stuck = orphan(root / "a", "stuck")
    others = {orphan(root / "a", "x"), orphan(root / "b", "y"), orphan(root / "c", "z")}
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if is_path(path, kwargs, stuck):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, str(root))
    assert code == 3
    # Everything else went, the directory holding the stuck file stays.
    expected = others | {root / "b" / "__pycache__", root / "c" / "__pycache__"}
    assert_removed(before, snapshot(tmp_path), expected)
    assert f"failed {stuck}: Permission denied" in out
    assert "; 1 failed" in out.splitlines()[-1]
    # The same in JSON, on a fresh copy of the situation.
    others = {orphan(root / "b", "y2")}
    code, doc = clean_json(capsys, str(root))
    assert code == 3
    assert doc["failed"] == [{"path": str(stuck), "reason": "Permission denied"}]
    assert {r["path"] for r in doc["removed"]} == {str(p) for p in others} | {
        str(root / "b" / "__pycache__")
    }


def test_library_reports_the_failure_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    first = orphan(root / "a", "first")
    later = orphan(root / "z", "later")
    the_plan, area = take_plan(root)
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if is_path(path, kwargs, first):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    open_fds = open_descriptors()
    outcome = carry_out(the_plan, area, dry_run=False)
    assert open_descriptors() == open_fds  # every directory descriptor is closed
    assert [f.path for f in outcome.failed] == [str(first)]
    assert {r.path for r in outcome.removed} == {str(later), str(later.parent)}
    assert first.exists() and not later.exists()
    assert outcome.skipped == [Skip(str(first.parent), "still holds what was not removed")]


def can_unlink_in_readonly_dir(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "f").write_text("x")
    probe.chmod(0o555)
    try:
        os.unlink(probe / "f")
    except PermissionError:
        return False
    finally:
        probe.chmod(0o755)
    return True


def test_read_only_directory_for_real(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A __pycache__ the user may not write to (root-owned caches)."""
    if can_unlink_in_readonly_dir(tmp_path):
        pytest.skip("permission bits do not stop this user (root): see the monkeypatched tests")
    root = tmp_path / "proj"
    stuck = orphan(root / "locked", "s")
    other = orphan(root / "free", "f")
    stuck.parent.chmod(0o555)
    try:
        before = snapshot(tmp_path)
        code, out, err = clean(capsys, str(root))
        after = snapshot(tmp_path)
    finally:
        stuck.parent.chmod(0o755)
    assert code == 3
    assert f"failed {stuck}: Permission denied" in out
    assert_removed(before, after, {other, other.parent})


def test_unreadable_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    hidden = orphan(root / "hidden", "h")
    other = orphan(root / "free", "f")
    hidden_cache = hidden.parent
    hidden_cache.chmod(0)
    try:
        if os.access(hidden_cache, os.R_OK):
            pytest.skip("this user (root) reads anything: no unreadable directory to test")
        before = snapshot(tmp_path)
        code, out, err = clean(capsys, str(root))
        after = snapshot(tmp_path)
    finally:
        hidden_cache.chmod(0o755)
    assert code == 3
    assert "unreadable" in out
    assert_removed(before, after, {other, other.parent})


def test_ghost_removal_takes_only_pycache_and_ghost_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inside a ghost, an empty directory in __pycache__, or anything but caches, keeps it."""
    root = tmp_path / "proj"
    a = orphan(root / "a", "m")  # a/__pycache__/{m.pyc, keep/}: only m goes
    (a.parent / "keep").mkdir()
    b = orphan(root / "b", "m")  # b/__pycache__/{m.pyc, notes.txt}: only m goes
    write(b.parent / "notes.txt", "mine\n")
    c = orphan(root / "c" / "inner", "m")  # c/inner/__pycache__ and c/__pycache__ (empty)
    (root / "c" / "__pycache__").mkdir()
    d = orphan(root / "d", "m")  # all of d goes
    before = snapshot(tmp_path)
    code, doc = clean_json(capsys, "--ghosts", str(root))
    assert code == 0
    expected = {a, b, c, c.parent, c.parent.parent, root / "c" / "__pycache__", root / "c"}
    expected |= {d, d.parent, d.parent.parent}
    assert_removed(before, snapshot(tmp_path), expected)
    kinds = {r["path"]: r["status"] for r in doc["removed"] if r["kind"] == "directory"}
    assert kinds[str(root / "c")] == "ghost" and kinds[str(c.parent)] == "__pycache__"


def test_read_only_file_system_for_real(tmp_path: Path) -> None:
    """Root ignores permission bits but not a read-only mount: bind-mount one __pycache__
    read-only in a private mount namespace (gone when the process ends) and clean through it."""
    unshare = shutil.which("unshare")
    if unshare is None or not is_root():
        pytest.skip("needs root and unshare(1) for a private read-only bind mount")
    root = tmp_path / "proj"
    stuck = orphan(root / "locked", "s")
    other = orphan(root / "free", "f")
    script = (
        'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" || exit 99\nshift; exec "$@"\n'
    )
    argv = [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    argv += [str(stuck.parent), sys.executable, "-m", "pycache_tool", "clean", str(root)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    before = snapshot(tmp_path)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    if done.returncode == 99:
        pytest.skip(f"no read-only bind mount here: {done.stderr.strip()}")
    assert done.returncode == 3, done.stderr
    assert f"failed {stuck}: Read-only file system" in done.stdout
    assert f"skipped {stuck.parent}: still holds what was not removed" in done.stdout
    assert done.stdout.splitlines()[-1].endswith("; 1 failed")
    assert_removed(before, snapshot(tmp_path), {other, other.parent})


def test_unreadable_directory_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as above for a user (root) whom permission bits do not stop."""
    root = tmp_path / "proj"
    hidden = orphan(root / "hidden", "h")
    hidden_cache = orphan(root / "cache_hidden", "c")
    other = orphan(root / "free", "f")
    real_scandir = os.scandir
    refused = {str(hidden.parent.parent), str(hidden_cache.parent)}

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) in refused:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    before = snapshot(tmp_path)
    code, out, err = clean(capsys, str(root))
    assert code == 3
    assert f"unreadable {hidden.parent.parent}: Permission denied" in out
    assert f"unreadable {hidden_cache.parent}: Permission denied" in out
    assert_removed(before, snapshot(tmp_path), {other, other.parent})
    code, doc = clean_json(capsys, "--dry-run", str(root))
    assert code == 3 and len(doc["unreadable"]) == 2 and doc["removed"] == []
