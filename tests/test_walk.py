"""The walker: what it lists, what it never follows, what ignore rules can and cannot hide."""

from __future__ import annotations

import json
import os
import py_compile
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pycache_tool import Status, scan
from pycache_tool.cli import main
from pycache_tool.scanning.ignore import IgnoreStack
from pycache_tool.scanning.walk import (
    Event,
    Ghost,
    Listing,
    Unlistable,
    project_root,
    root_rules,
    walk,
)
from tests.conftest import write

TAG = sys.implementation.cache_tag


def events(
    root: Path,
    exclude: Sequence[str] = (),
    use_ignore_files: bool = True,
    skip: frozenset[str] = frozenset(),
) -> list[Event]:
    top = os.path.abspath(root)
    rules = root_rules(top, list(exclude), use_ignore_files)
    return list(walk(top, rules, use_ignore_files=use_ignore_files, skip=skip))


def rel(root: Path, path: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def listed(root: Path, **kwargs: object) -> list[str]:
    """Relative paths of the directories walked, in walk order."""
    return [rel(root, e.path) for e in events(root, **kwargs) if isinstance(e, Listing)]  # type: ignore[arg-type]


def ghosts(root: Path, **kwargs: object) -> list[str]:
    return sorted(rel(root, e.path) for e in events(root, **kwargs) if isinstance(e, Ghost))  # type: ignore[arg-type]


def make_pyc(source: Path, text: str = "x = 1\n") -> Path:
    """A fresh cache for ``source`` (written first) in its __pycache__, for this interpreter."""
    write(source, text)
    cfile = source.parent / "__pycache__" / f"{source.stem}.{TAG}.pyc"
    py_compile.compile(str(source), cfile=str(cfile), doraise=True)
    return cfile


def make_cache_only(directory: Path, stem: str = "gone") -> Path:
    """An orphan cache (its source removed) in ``directory/__pycache__``."""
    cfile = make_pyc(directory / f"{stem}.py")
    (directory / f"{stem}.py").unlink()
    return cfile


def statuses(paths: Sequence[Path], root: Path, **options: Any) -> dict[str, Status]:
    return {rel(root, r.path): r.status for r in scan([str(p) for p in paths], **options)}


def git_init(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    try:
        subprocess.run(["git", "init", "-q", str(path)], check=True, env=env, timeout=60)
    except FileNotFoundError:
        # No git: a .git directory with info/ is all the walker looks at.
        (path / ".git" / "info").mkdir(parents=True, exist_ok=True)


@pytest.fixture
def unreadable() -> Iterator[list[Path]]:
    """Directories a test makes unreadable; restored afterwards so tmp_path can be removed."""
    made: list[Path] = []
    yield made
    for path in made:
        os.chmod(path, stat.S_IRWXU)


def make_unreadable(path: Path, made: list[Path]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0)
    made.append(path)
    try:
        os.listdir(path)
    except PermissionError:
        return
    pytest.skip("chmod 000 does not stop this user (running as root)")


# --- listing -----------------------------------------------------------------------------


def test_depth_first_in_name_order(tmp_path: Path) -> None:
    for d in ("b", "a/c", "a/b", "a/b/z", "A"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
        write(tmp_path / d / "m.py")
    assert listed(tmp_path) == [".", "A", "a", "a/b", "a/b/z", "a/c", "b"]


def test_listing_holds_files_symlinks_and_pycache(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "mod.py")
    cfile = make_pyc(tmp_path / "pkg" / "mod.py")
    write(tmp_path / "pkg" / "old.pyc")
    (tmp_path / "pkg" / "sub").mkdir()
    (tmp_path / "pkg" / "to_file.py").symlink_to("mod.py")
    (tmp_path / "pkg" / "to_dir").symlink_to("sub")
    (tmp_path / "pkg" / "dangling").symlink_to("nowhere")
    (first, pkg, sub) = [e for e in events(tmp_path) if isinstance(e, Listing)]
    assert first.path == str(tmp_path) and first.files == [] and first.pycache is None
    assert pkg.path == str(tmp_path / "pkg")
    assert pkg.files == ["mod.py", "old.pyc"]
    assert pkg.others == ["dangling", "to_dir", "to_file.py"]
    assert pkg.pycache == [cfile.name]
    assert pkg.pycache_error is None and not pkg.pycache_link
    assert sub.path == str(tmp_path / "pkg" / "sub") and sub.files == []


def test_vcs_directories_are_always_skipped(tmp_path: Path) -> None:
    git_init(tmp_path)
    for vcs in (".git", ".hg", ".svn"):
        make_pyc(tmp_path / vcs / "hooks" / "h.py")
        make_pyc(tmp_path / "sub" / vcs / "x.py")
    make_pyc(tmp_path / "sub" / "m.py")
    for use_ignore_files in (True, False):
        assert listed(tmp_path, use_ignore_files=use_ignore_files) == [".", "sub"]
    got = statuses([tmp_path], tmp_path, use_ignore_files=False)
    assert got == {f"sub/__pycache__/m.{TAG}.pyc": Status.FRESH}


def test_a_dot_git_file_is_listed_not_entered(tmp_path: Path) -> None:
    write(tmp_path / "sub" / ".git", "gitdir: ../elsewhere\n")
    write(tmp_path / "sub" / "m.py")
    (listing,) = [e for e in events(tmp_path / "sub") if isinstance(e, Listing)]
    assert listing.files == [".git", "m.py"]


def test_skip_is_never_entered(tmp_path: Path) -> None:
    make_pyc(tmp_path / "prefix" / "x.py")
    make_pyc(tmp_path / "src" / "y.py")
    skip = frozenset({str(tmp_path / "prefix")})
    assert listed(tmp_path, skip=skip) == [".", "src"]


# --- symlinks ----------------------------------------------------------------------------


def test_directory_symlinks_are_not_followed(tmp_path: Path) -> None:
    make_pyc(tmp_path / "pkg" / "m.py")
    (tmp_path / "link").symlink_to("pkg", target_is_directory=True)
    (tmp_path / "abs").symlink_to(tmp_path / "pkg", target_is_directory=True)
    assert listed(tmp_path) == [".", "pkg"]
    root_listing = events(tmp_path)[0]
    assert isinstance(root_listing, Listing)
    assert root_listing.files == [] and root_listing.others == ["abs", "link"]
    # One record for the one cache file, not one per path that reaches it.
    assert statuses([tmp_path], tmp_path) == {f"pkg/__pycache__/m.{TAG}.pyc": Status.FRESH}


def test_symlink_loops_are_harmless(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "a" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "a" / "to_b").symlink_to("../b", target_is_directory=True)
    (tmp_path / "b" / "to_a").symlink_to("../a", target_is_directory=True)
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    make_pyc(tmp_path / "a" / "m.py")
    assert listed(tmp_path) == [".", "a", "b"]
    assert statuses([tmp_path], tmp_path) == {f"a/__pycache__/m.{TAG}.pyc": Status.FRESH}


def test_symlinked_pycache_is_not_followed(tmp_path: Path) -> None:
    cfile = make_cache_only(tmp_path / "real")
    write(tmp_path / "real" / "README")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__pycache__").symlink_to(cfile.parent, target_is_directory=True)
    pkg = [e for e in events(tmp_path) if isinstance(e, Listing) and e.path.endswith("pkg")]
    assert pkg[0].pycache is None and pkg[0].pycache_link
    assert pkg[0].others == ["__pycache__"]
    # Reported as what it is, once; nothing is read through it.
    assert statuses([tmp_path], tmp_path) == {
        f"real/__pycache__/gone.{TAG}.pyc": Status.ORPHAN,
        "pkg/__pycache__": Status.SYMLINK,
    }


# --- ignore rules ------------------------------------------------------------------------


def test_ignore_rules_never_hide_caches(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "__pycache__/\n*.pyc\n*.pyo\n*.py[cod]\n*.py\n")
    make_pyc(tmp_path / "pkg" / "m.py")
    make_cache_only(tmp_path / "pkg", "orphan")
    write(tmp_path / "pkg" / "legacy.pyc", "junk")
    got = statuses([tmp_path], tmp_path)
    assert got[f"pkg/__pycache__/m.{TAG}.pyc"] is Status.FRESH
    assert got[f"pkg/__pycache__/orphan.{TAG}.pyc"] is Status.ORPHAN
    assert "pkg/legacy.pyc" in got


def test_gitignored_source_still_makes_its_cache_fresh(tmp_path: Path) -> None:
    """Classification looks at the disk: a generated, ignored _version.py is not an orphan."""
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "_version.py\n")
    make_pyc(tmp_path / "pkg" / "_version.py")
    assert statuses([tmp_path], tmp_path) == {f"pkg/__pycache__/_version.{TAG}.pyc": Status.FRESH}


def test_ignored_directories_are_not_entered(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "build/\n/dist\n")
    write(tmp_path / ".git" / "info" / "exclude", "local/\n")
    for d in ("build", "src/build", "dist", "local", "src/local", "src/dist", "src"):
        make_pyc(tmp_path / d / "m.py")
    assert listed(tmp_path) == [".", "src", "src/dist"]
    assert set(statuses([tmp_path], tmp_path)) == {
        f"src/__pycache__/m.{TAG}.pyc",
        f"src/dist/__pycache__/m.{TAG}.pyc",
    }


def test_nothing_below_an_ignored_directory_comes_back(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "out/\n!out/keep/\n")
    write(tmp_path / "out" / ".gitignore", "!keep/\n")
    make_pyc(tmp_path / "out" / "keep" / "m.py")
    assert listed(tmp_path) == ["."]


def test_deepest_file_with_an_opinion_decides(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "gen/\n")
    write(tmp_path / "a" / ".gitignore", "!gen/\n")
    write(tmp_path / "a" / "b" / ".gitignore", "other/\n")
    for d in ("gen", "a/gen", "a/b/gen", "c/gen"):
        make_pyc(tmp_path / d / "m.py")
    assert listed(tmp_path) == [".", "a", "a/b", "a/b/gen", "a/gen", "c"]


def test_rules_for_files_of_a_listing(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "*.py\n!keep.py\n")
    write(tmp_path / "sub" / ".gitignore", "keep.py\n!again.py\n")
    for name in ("x.py", "keep.py", "again.py"):
        write(tmp_path / name)
        write(tmp_path / "sub" / name)
    kept = {
        rel(tmp_path, os.path.join(e.path, f))
        for e in events(tmp_path)
        if isinstance(e, Listing)
        for f in e.files
        if f.endswith(".py") and not e.rules.ignored(os.path.join(e.path, f), False)
    }
    assert kept == {"keep.py", "sub/again.py"}


def test_walk_started_below_the_repository_root(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "skip/\n")
    write(tmp_path / ".git" / "info" / "exclude", "private/\n")
    write(tmp_path / "mid" / ".gitignore", "gen/\n")
    for d in ("mid/inner/gen", "mid/inner/skip", "mid/inner/private", "mid/inner/ok"):
        make_pyc(tmp_path / d / "m.py")
    assert listed(tmp_path / "mid" / "inner") == [".", "ok"]


def test_root_inside_an_ignored_directory_is_walked(tmp_path: Path) -> None:
    """Naming a directory that git ignores means "look inside": its parents' rules are dropped."""
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "build/\n*.txt\n")
    make_pyc(tmp_path / "build" / "lib" / "pkg" / "m.py")
    assert listed(tmp_path / "build" / "lib") == [".", "pkg"]
    assert set(statuses([tmp_path / "build" / "lib"], tmp_path)) == {
        f"build/lib/pkg/__pycache__/m.{TAG}.pyc"
    }


def test_virtualenv_is_skipped_like_git_skips_it(tmp_path: Path) -> None:
    git_init(tmp_path)
    venv = tmp_path / ".venv"
    write(venv / ".gitignore", "# created by virtualenv automatically\n*\n")
    write(venv / "pyvenv.cfg", "home = /usr/bin\n")
    make_pyc(venv / "lib" / "site-packages" / "pkg" / "m.py")
    make_pyc(tmp_path / "src" / "m.py")
    assert listed(tmp_path) == [".", ".venv", "src"]
    assert set(statuses([tmp_path], tmp_path)) == {f"src/__pycache__/m.{TAG}.pyc"}
    # Named as the path, it is walked like any tree.
    assert listed(venv) == [".", "lib", "lib/site-packages", "lib/site-packages/pkg"]
    assert set(statuses([venv], tmp_path)) == {
        f".venv/lib/site-packages/pkg/__pycache__/m.{TAG}.pyc"
    }
    # Also when the repository ignores it, and outside any repository.
    write(tmp_path / ".gitignore", ".venv/\n")
    assert listed(venv)[-1] == "lib/site-packages/pkg"
    plain = tmp_path / "plain"
    write(plain / "env" / ".gitignore", "*\n")
    make_pyc(plain / "env" / "lib" / "m.py")
    assert listed(plain) == [".", "env"]
    assert listed(plain / "env") == [".", "lib"]


def test_whitelist_gitignore_at_a_repository_root_applies(tmp_path: Path) -> None:
    """A repository's own "*" .gitignore is a whitelist, not a virtualenv marker."""
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "*\n!*.py\n!.gitignore\n")
    make_pyc(tmp_path / "m.py")
    make_pyc(tmp_path / "data" / "d.py")
    assert listed(tmp_path) == ["."]
    assert set(statuses([tmp_path], tmp_path)) == {f"__pycache__/m.{TAG}.pyc"}


def test_nested_repository_starts_its_own_rules(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "gen/\n")
    git_init(tmp_path / "vendor" / "lib")
    write(tmp_path / "vendor" / "lib" / ".git" / "info" / "exclude", "tmp/\n")
    for d in ("gen", "vendor/gen", "vendor/lib/gen", "vendor/lib/tmp", "tmp"):
        make_pyc(tmp_path / d / "m.py")
    assert listed(tmp_path) == [".", "tmp", "vendor", "vendor/lib", "vendor/lib/gen"]


def test_no_ignore_reads_no_ignore_file(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "build/\n")
    write(tmp_path / ".git" / "info" / "exclude", "local/\n")
    write(tmp_path / ".venv" / ".gitignore", "*\n")
    for d in ("build", "local", ".venv/lib"):
        make_pyc(tmp_path / d / "m.py")
    assert listed(tmp_path, use_ignore_files=False) == [".", ".venv", ".venv/lib", "build", "local"]
    assert len(statuses([tmp_path], tmp_path, use_ignore_files=False)) == 3
    assert statuses([tmp_path], tmp_path) == {}


def test_exclude_patterns_are_relative_to_the_project_root(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "ignored/\n")
    for d in ("a/skip", "a/b/skip", "a/keep", "a/ignored", "skip"):
        make_pyc(tmp_path / d / "m.py")
    top = tmp_path / "a"
    assert listed(top, exclude=["skip"]) == [".", "b", "keep"]
    assert listed(top, exclude=["/a/skip"]) == [".", "b", "b/skip", "keep"]
    # Anchored to the project root, not to the walked path: "/skip" is tmp_path/skip.
    assert listed(top, exclude=["/skip"]) == [".", "b", "b/skip", "keep", "skip"]
    # --exclude sits above every ignore file, so it can re-include too.
    assert listed(top, exclude=["!ignored/"]) == [".", "b", "b/skip", "ignored", "keep", "skip"]
    # And it still applies without ignore files.
    assert listed(top, exclude=["skip/"], use_ignore_files=False) == [".", "b", "ignored", "keep"]
    got = statuses([top], tmp_path, exclude=["skip", "b"])
    assert set(got) == {f"a/keep/__pycache__/m.{TAG}.pyc"}


def test_project_root(tmp_path: Path) -> None:
    write(tmp_path / "proj" / "pyproject.toml")
    (tmp_path / "proj" / "src" / "pkg").mkdir(parents=True)
    assert project_root(str(tmp_path / "proj" / "src" / "pkg")) == str(tmp_path / "proj")
    (tmp_path / "proj" / "src" / ".git").mkdir()
    assert project_root(str(tmp_path / "proj" / "src" / "pkg")) == str(tmp_path / "proj" / "src")
    lone = tmp_path / "lone"
    lone.mkdir()
    if project_root(str(tmp_path)) == str(tmp_path):
        # Nothing above tmp_path marks a project: the path itself is the root.
        assert project_root(str(lone)) == str(lone)


def test_odd_ignore_files_do_not_break_the_walk(tmp_path: Path) -> None:
    git_init(tmp_path)
    (tmp_path / ".gitignore").mkdir()  # a directory named .gitignore: walked, not read
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_bytes(
        b"caf\xe9/\n\\\n!\nbuild/\n"
    )  # latin-1, bad lines
    make_pyc(tmp_path / "sub" / "build" / "m.py")
    make_pyc(tmp_path / "sub" / "ok" / "m.py")
    assert listed(tmp_path) == [".", ".gitignore", "sub", "sub/ok"]


def test_malformed_patterns_match_nothing_and_never_raise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reversed range, an unclosed bracket or an unknown class, in a .gitignore, --exclude or
    pyproject.toml: no error. Unclosed or unknown: the pattern matches nothing; a reversed
    range adds nothing but its first byte (git's ``[b-a]`` is ``b``), as in git."""
    git_init(tmp_path)
    write(tmp_path / "pyproject.toml", '[tool.pycache-tool]\nexclude = ["[y-b]*/", "[[:nope:]]"]\n')
    write(tmp_path / ".gitignore", "[b-a]\n[z-a].py\na[\n[[:nope:]]/\n")
    for name in ("a", "b", "z", "a["):
        make_pyc(tmp_path / name / "m.py")
    assert listed(tmp_path, exclude=["[z-a]", "[", "[y-b]*/"]) == [".", "a", "a["]
    assert main(["audit", "--exclude", "[z-a]", "--exclude", "[", str(tmp_path)]) == 0
    # No error; the unclosed bracket matches nothing, which is pointed out as for any pattern.
    err = capsys.readouterr().err
    assert err.startswith("pycache-tool: warning: --exclude [ matched nothing;")
    assert err.count("\n") == 1


def test_empty_ignore_stack_is_false() -> None:
    assert not IgnoreStack()
    assert not IgnoreStack().ignored("/x/y", True)


# --- ghosts ------------------------------------------------------------------------------


def test_directory_with_only_pycache_is_a_ghost(tmp_path: Path) -> None:
    make_cache_only(tmp_path / "gone")
    make_pyc(tmp_path / "live" / "m.py")
    assert ghosts(tmp_path) == ["gone"]
    got = statuses([tmp_path], tmp_path)
    assert got["gone"] is Status.GHOST
    assert got[f"gone/__pycache__/gone.{TAG}.pyc"] is Status.ORPHAN


def test_only_the_topmost_ghost_is_reported(tmp_path: Path) -> None:
    make_cache_only(tmp_path / "old")
    make_cache_only(tmp_path / "old" / "a")
    make_cache_only(tmp_path / "old" / "a" / "b")
    make_cache_only(tmp_path / "old" / "c" / "d")  # old/c holds only a ghost: a ghost too
    assert ghosts(tmp_path) == ["old"]


def test_ghost_parent_without_its_own_pycache(tmp_path: Path) -> None:
    make_cache_only(tmp_path / "ns" / "a")
    make_cache_only(tmp_path / "ns" / "b")
    assert ghosts(tmp_path) == ["ns"]


def test_ghosts_below_a_live_directory(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "__init__.py")
    make_cache_only(tmp_path / "pkg" / "x")
    make_cache_only(tmp_path / "pkg" / "y")
    (tmp_path / "pkg" / "empty").mkdir()  # inside a package: a ghost too
    assert ghosts(tmp_path) == ["pkg/empty", "pkg/x", "pkg/y"]


def test_not_ghosts(tmp_path: Path) -> None:
    make_cache_only(tmp_path / "withfile")
    write(tmp_path / "withfile" / "README")
    make_cache_only(tmp_path / "withlink")
    (tmp_path / "withlink" / "l").symlink_to("..")
    make_cache_only(tmp_path / "withempty")
    (tmp_path / "withempty" / "e").mkdir()
    (tmp_path / "empty").mkdir()
    make_cache_only(tmp_path / "withvcs")
    (tmp_path / "withvcs" / ".hg").mkdir()
    assert ghosts(tmp_path) == []


def test_root_is_never_a_ghost(tmp_path: Path) -> None:
    make_cache_only(tmp_path)
    make_cache_only(tmp_path / "only")
    assert ghosts(tmp_path) == ["only"]
    assert ghosts(tmp_path / "only") == []
    assert Status.GHOST not in statuses([tmp_path / "only"], tmp_path).values()


def test_ignored_directories_hold_no_ghosts(tmp_path: Path) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "build/\n")
    make_cache_only(tmp_path / "build")
    make_cache_only(tmp_path / "pkg")
    make_cache_only(tmp_path / "pkg" / "build")  # pkg holds an ignored dir: not a ghost
    assert ghosts(tmp_path) == []
    assert ghosts(tmp_path, use_ignore_files=False) == ["build", "pkg"]


# --- unreadable directories --------------------------------------------------------------


def test_unreadable_directory_is_reported_and_the_walk_goes_on(
    tmp_path: Path, unreadable: list[Path]
) -> None:
    make_pyc(tmp_path / "a" / "m.py")
    make_pyc(tmp_path / "c" / "m.py")
    make_cache_only(tmp_path / "ghostish")
    make_unreadable(tmp_path / "b", unreadable)
    make_unreadable(tmp_path / "ghostish" / "locked", unreadable)
    evs = events(tmp_path)
    bad = [e for e in evs if isinstance(e, Unlistable)]
    assert [rel(tmp_path, e.path) for e in bad] == ["b", "ghostish/locked"]
    assert all(isinstance(e.error, PermissionError) for e in bad)
    assert listed(tmp_path) == [".", "a", "c", "ghostish"]
    assert ghosts(tmp_path) == []  # what cannot be read may hold sources
    got = statuses([tmp_path], tmp_path)
    assert got["b"] is Status.UNREADABLE
    assert main(["audit", str(tmp_path)]) == 3


def test_unreadable_pycache(tmp_path: Path, unreadable: list[Path]) -> None:
    write(tmp_path / "pkg" / "m.py")
    make_unreadable(tmp_path / "pkg" / "__pycache__", unreadable)
    (listing,) = [e for e in events(tmp_path) if isinstance(e, Listing) and e.path.endswith("pkg")]
    assert listing.pycache is None
    assert isinstance(listing.pycache_error, PermissionError)
    assert statuses([tmp_path], tmp_path) == {"pkg/__pycache__": Status.UNREADABLE}


def test_unreadable_root(tmp_path: Path, unreadable: list[Path]) -> None:
    make_unreadable(tmp_path / "root", unreadable)
    evs = events(tmp_path / "root")
    assert len(evs) == 1 and isinstance(evs[0], Unlistable)


def test_cli_json_reports_walk_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git_init(tmp_path)
    write(tmp_path / ".gitignore", "__pycache__/\nbuild/\n")
    make_pyc(tmp_path / "pkg" / "m.py")
    make_pyc(tmp_path / "build" / "m.py")
    make_cache_only(tmp_path / "skipme")
    make_cache_only(tmp_path / "ghost")
    assert main(["audit", str(tmp_path), "--exclude", "skipme", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    got = {rel(tmp_path, r["path"]): r["status"] for r in doc["records"]}
    assert got == {
        f"pkg/__pycache__/m.{TAG}.pyc": "fresh",
        f"ghost/__pycache__/gone.{TAG}.pyc": "orphan",
        "ghost": "ghost",
    }
    assert main(["audit", str(tmp_path), "--no-ignore", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {rel(tmp_path, r["path"]) for r in doc["records"]} >= {
        f"build/__pycache__/m.{TAG}.pyc",
        f"skipme/__pycache__/gone.{TAG}.pyc",
    }
