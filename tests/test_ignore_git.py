"""Differential tests: the walker and its ignore rules against git itself, on the same trees.

For every tree (enumerated cases, then trees that hypothesis generates) git answers two
questions and the walker must give the same answers:

- which directories are entered: a directory is entered when neither it nor any directory
  above it (below the repository root) is ignored (``git check-ignore``), or when it holds a
  path git tracks (git walks into those whatever the rules say);
- which files count as not ignored (``git ls-files --cached --others --exclude-standard``,
  and ``Listing.rules.ignored(path, False)`` on the walker's side).

Besides, every ``__pycache__`` of an entered directory must be listed, whatever the ignore
files say about ``__pycache__/`` or ``*.pyc``. ``test_wildmatch_git.py`` compares the
pattern grammar alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycache_tool.scanning.gitfiles import Repository
from pycache_tool.scanning.ignore import read_patterns
from pycache_tool.scanning.walk import Listing, ignores_everything, root_rules, walk

pytestmark = [
    pytest.mark.git,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]


def git(cwd: Path, *args: str, stdin: bytes | None = None, ok: Iterable[int] = (0,)) -> bytes:
    """git in the test's environment (conftest: no system or user configuration)."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, "LC_ALL": "C"},
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode in tuple(ok), proc.stderr
    return proc.stdout


def _paths(out: bytes) -> list[str]:
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


# relative POSIX path -> content; a path ending in "/" is a directory; names may hold any byte
# but NUL and "/" (bytes go through os.fsdecode)
Tree = Mapping[str, Union[str, bytes]]


def make_tree(
    root: Path,
    tree: Tree,
    exclude_lines: Sequence[str] = (),
    *,
    tracked: Sequence[str] = (),
    config: Mapping[str, str] | None = None,
) -> None:
    """``git init`` at ``root``, the config, the tree, ``.git/info/exclude``; then ``git add
    -f`` the ``tracked`` paths (force: they may be ignored)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", ".")
    for key, value in (config or {}).items():
        git(root, "config", key, value)
    for rel, content in tree.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text(
        "".join(line + "\n" for line in exclude_lines), encoding="utf-8"
    )
    if tracked:
        git(root, "add", "-f", "--", *tracked)


def _rel(root: Path, path: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _under(rel: str, start: str) -> bool:
    return start == "." or rel == start or rel.startswith(start + "/")


def walker_view(
    root: Path, start: str = ".", exclude: Sequence[str] = (), use_ignore_files: bool = True
) -> tuple[set[str], set[str]]:
    """(directories entered, files not ignored), relative to ``root``."""
    top = os.path.normpath(os.path.join(root, start))
    rules = root_rules(top, list(exclude), use_ignore_files)
    dirs: set[str] = set()
    files: set[str] = set()
    for event in walk(top, rules, use_ignore_files=use_ignore_files):
        if not isinstance(event, Listing):
            continue
        dirs.add(_rel(root, event.path))
        for name in [*event.files, *event.others]:
            if name == ".git":  # a worktree's or submodule's .git file: never git's
                continue
            path = os.path.join(event.path, name)
            if not (event.rules and event.rules.ignored(path, False)):
                files.add(_rel(root, path))
        # Ignore rules never hide a __pycache__ of a walked directory.
        pycache = os.path.join(event.path, "__pycache__")
        if os.path.isdir(pycache) and not os.path.islink(pycache):
            assert event.pycache is not None, pycache
            assert event.pycache == sorted(os.listdir(pycache))
    return dirs, files


def git_view(
    root: Path, start: str = ".", exclude: Sequence[str] = ()
) -> tuple[set[str] | None, set[str]]:
    """git's answer to the same questions (directories only without ``exclude``)."""
    dirs: set[str] | None = None
    if not exclude:
        holding: set[str] = set()  # directories that hold a tracked path
        for path in _paths(git(root, "ls-files", "-z")):
            parts = path.split("/")
            holding.update("/".join(parts[:i]) for i in range(1, len(parts)))
        all_dirs, shut = ignored_dirs(root)
        dirs = {d for d in all_dirs if d not in shut or d in holding}
        dirs = {d for d in dirs if _under(d, start)}
    args = ["ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    for pattern in exclude:
        args += ["-x", pattern]
    files = {
        f
        for f in _paths(git(root, *args))
        if _under(f, start) and "__pycache__" not in f.split("/")[:-1]
    }
    return dirs, files


def ignored_dirs(root: Path) -> tuple[set[str], set[str]]:
    """(every directory but .git and __pycache__, those ignored or below an ignored one)."""
    all_dirs: list[str] = []
    for directory, subdirs, _ in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in (".git", "__pycache__")]
        all_dirs.extend(_rel(root, os.path.join(directory, d)) for d in subdirs)
    out = b""
    if all_dirs:
        stdin = b"".join(os.fsencode(d) + b"\0" for d in all_dirs)
        out = git(root, "check-ignore", "--no-index", "--stdin", "-z", stdin=stdin, ok=(0, 1))
    ignored = set(_paths(out))
    shut = set()
    for rel in all_dirs:
        parts = rel.split("/")
        if any("/".join(parts[: i + 1]) in ignored for i in range(len(parts))):
            shut.add(rel)
    return {".", *all_dirs}, shut


def py(files: set[str]) -> set[str]:
    return {f for f in files if f.endswith(".py")}


def assert_same(
    root: Path, start: str = ".", exclude: Sequence[str] = (), context: object = ""
) -> None:
    want_dirs, want_files = git_view(root, start, exclude)
    got_dirs, got_files = walker_view(root, start, exclude)
    if want_dirs is not None:
        assert got_dirs == want_dirs, f"directories differ from git\n{context}"
    assert got_files == want_files, f"files differ from git\n{context}"


# --- enumerated cases --------------------------------------------------------------------

CASES: list[tuple[str, Tree, list[str]]] = [
    (
        "nested-negation-beats-ancestor",
        {".gitignore": "*.log.py\n", "keep.log.py": "", "sub/.gitignore": "!keep.log.py\n"}
        | {"sub/keep.log.py": "", "sub/other.log.py": ""},
        [],
    ),
    (
        "excluded-dir-cannot-be-reincluded",
        {".gitignore": "exclude/\n!exclude/keep/\n", "exclude/keep/a.py": ""},
        [],
    ),
    (
        "star-then-reinclude-dir",
        {".gitignore": "exclude/*\n!exclude/keep/\n", "exclude/keep/a.py": ""}
        | {"exclude/other/b.py": "", "exclude/c.py": ""},
        [],
    ),
    (
        "unanchored-name-any-depth",
        {".gitignore": "a.py\n", "a.py": "", "child/a.py": "", "child/b.py": ""},
        [],
    ),
    (
        "anchored-in-subdir",
        {"sub/.gitignore": "/top.py\n", "sub/top.py": "", "sub/deeper/top.py": ""},
        [],
    ),
    (
        "middle-slash-anchored",
        {".gitignore": "gen/*.py\n", "gen/a.py": "", "pkg/gen/a.py": ""},
        [],
    ),
    (
        "dir-only-pattern",
        {".gitignore": "build/\n", "build/a.py": "", "pkg/build.py": "", "pkg/build/b.py": ""},
        [],
    ),
    (
        "double-star-dir",
        {".gitignore": "**/cache/\n", "cache/a.py": "", "x/y/cache/b.py": "", "x/c.py": ""},
        [],
    ),
    (
        "info-exclude-below-gitignore",
        {".gitignore": "!keep.py\n", "keep.py": "", "drop.py": "", "d/x.py": ""},
        ["*.py", "d/"],
    ),
    (
        "gitignore-reincludes-dir-from-info-exclude",
        {"sub/.gitignore": "!d/\n", "sub/d/x.py": "", "d/y.py": ""},
        ["d/"],
    ),
    (
        "pycache-and-pyc-patterns-do-not-hide-caches",
        {".gitignore": "__pycache__/\n*.pyc\n", "pkg/a.py": ""}
        | {"pkg/__pycache__/a.cpython-311.pyc": "", "__pycache__/t.cpython-311.pyc": ""},
        [],
    ),
    (
        "whitelist-repository",
        {".gitignore": "*\n!*.py\n!.gitignore\n", "a.py": "", "data/b.py": "", "n.txt": ""},
        [],
    ),
    (
        "whitelist-repository-with-dirs",
        {".gitignore": "*\n!*/\n!*.py\n", "a.py": "", "data/b.py": "", "data/n.txt": ""},
        [],
    ),
    (
        "venv-inside-repository",
        {".venv/.gitignore": "*\n", ".venv/pyvenv.cfg": "", ".venv/lib/site.py": ""}
        | {"src/a.py": ""},
        [],
    ),
    (
        "negated-dir-then-file-in-same-file",
        {".gitignore": "d/\n!d/\n*.py\n!d/*.py\n", "d/x.py": "", "d/e/y.py": "", "z.py": ""},
        [],
    ),
    (
        "deeper-dir-negation-has-no-opinion-on-its-files",
        {".gitignore": "*.py\nd/\n", "sub/.gitignore": "!d/\n", "sub/d/x.py": "", "d/y.py": ""}
        | {"sub/d/e/z.py": ""},
        [],
    ),
    (
        "star-vs-later-dir-negation",
        {".gitignore": "*\n!*/\n!x.py\n", "a/x.py": "", "a/y.py": "", "a/b/x.py": ""},
        [],
    ),
    (
        "escapes-trailing-spaces-and-invalid-lines",
        {".gitignore": "a.py\\\n!\n\\!b.py\nc.py   \n\\#f.py\n#e.py\n"}
        | {"a.py": "", "!b.py": "", "b.py": "", "c.py": "", "#f.py": "", "e.py": ""},
        [],
    ),
    (
        "double-star-inside",
        {".gitignore": "a/**\n!a/b/\n", "a/x.py": "", "a/b/y.py": "", "a/b/c/z.py": ""},
        [],
    ),
    # --- git's own reading of an ignore file
    (
        "utf8-bom-is-dropped",
        {".gitignore": b"\xef\xbb\xbfa.py\n\xef\xbb\xbfb.py\n"}
        | {"a.py": "", "\ufeffa.py": "", "b.py": "", "\ufeffb.py": ""},
        [],
    ),
    (
        "utf8-bom-before-a-comment",
        {".gitignore": b"\xef\xbb\xbf#a.py\n", "a.py": "", "#a.py": "", "\ufeff#a.py": ""},
        ["\ufeffc.py"],
    ),
    (
        "lines-end-at-newline-only",
        {
            ".gitignore": b"a.py\r\nb.py\rc.py\nd.py\x0ce.py\nf.py\x0bg.py\nh.py\xc2\x85i.py\n"
            b"j.py\xe2\x80\xa8k.py\nl.py\x1cm.py\nn.py\r\r\no.py",
            **{name: "" for c in "abcdefghijklmno" for name in (c, f"{c}.py")},
            **{"a.py\r": "", "b.py\rc.py": "", "d.py\x0ce.py": "", "f.py\x0bg.py": ""},
            **{"h.py\x85i.py": "", "j.py\u2028k.py": "", "l.py\x1cm.py": "", "n.py\r": ""},
        },
        [],
    ),
    (
        "only-unescaped-trailing-spaces-are-trimmed",
        {".gitignore": b"a.py\t\nb.py   \nc.py\\ \nd.py\\  \ne.py \\\nf.py\\\\  \n"}
        | {"a.py": "", "a.py\t": "", "b.py": "", "b.py ": "", "c.py": "", "c.py ": ""}
        | {"d.py": "", "d.py ": "", "e.py": "", "e.py ": "", "f.py\\": "", "f.py\\ ": ""},
        [],
    ),
    (
        "hash-starts-a-comment-in-the-first-column-only",
        {".gitignore": " #a.py\n#b.py\n\\#c.py\n\t#d.py\n", " #a.py": "", "#a.py": ""}
        | {"#b.py": "", "b.py": "", "#c.py": "", "\t#d.py": "", "#d.py": ""},
        [],
    ),
    (
        "nul-ends-a-line",
        {".gitignore": b"a.py\0b.py\n\0c.py\n", "a.py": "", "b.py": "", "c.py": ""},
        [],
    ),
    # --- git's wildmatch
    (
        "posix-classes",
        {
            ".gitignore": "[[:digit:]]*.py\n[[:upper:]][[:lower:]].py\n[[:space:]]s.py\n"
            "[![:alnum:]]n.py\n[[:punct:][:xdigit:]]p.py\n",
            "1a.py": "",
            "a1.py": "",
            "Ab.py": "",
            "AB.py": "",
            "ab.py": "",
            " s.py": "",
            "\ts.py": "",
            "\rs.py": "",
            "\x0bs.py": "",
            "\x0cs.py": "",
            "_n.py": "",
            "an.py": "",
            "\xe9n.py": "",
            os.fsdecode(b"\xe9n.py"): "",
            "!p.py": "",
            "fp.py": "",
            "gp.py": "",
        },
        [],
    ),
    (
        "malformed-brackets-match-nothing",
        {
            ".gitignore": "[\na[\n[]\n[!]\n[[:foo:]]x\n[[::]]y\n[[:digit:]z\n[a-\n[\\\n[z-a]w.py\n"
            "[a-\\]]h.py\n!\n",
        }
        | dict.fromkeys(["[", "a[", "[]", "]", "[!]", "!", "x", "[[:foo:]]x", "fx", "y"], "")
        | dict.fromkeys(["[[::]]y", ":y", "z", "1z", "[a-", "a", "-", "[\\", "w.py"], "")
        | dict.fromkeys(["zw.py", "aw.py", "-w.py", "[z-a]w.py", "ah.py", "]h.py", "\\h.py"], ""),
        [],
    ),
    (
        "odd-but-well-formed-brackets",
        {".gitignore": "[]a]b.py\n[!]a]c.py\n[a-]d.py\n[[:digit]e.py\n[[:]f.py\n[\\]]g.py\n"}
        | {".gitignore2": "", "[]i.py": "", "]b.py": "", "ab.py": "", "xb.py": "", "]c.py": ""}
        | {
            "ac.py": "",
            "xc.py": "",
            "ad.py": "",
            "-d.py": "",
            "bd.py": "",
            "[e.py": "",
            ":e.py": "",
        }
        | {"de.py": "", "]e.py": "", "[f.py": "", ":f.py": "", "]g.py": "", "\\g.py": ""},
        ["[]-a]i.py", "[^x]j.py"],
    ),
    (
        "brackets-never-match-a-slash",
        {".gitignore": "d/a[/]b\nd/a[!x]c\ne/a[^x]b/\nf/a?b\n", "d/a/b": "", "d/a/c": ""}
        | {"d/ayc": "", "e/a/b/x.py": "", "e/azb/x.py": "", "f/a/b": "", "f/azb": ""},
        [],
    ),
    (
        "reversed-range-keeps-only-its-first-byte",
        {".gitignore": "[b-a]*\n[!b-a]x.py\n", "a.py": "", "b.py": "", "ax.py": "", "x.py": ""},
        ["[z-a].py"],
    ),
    (
        "trailing-double-star-slash-matches-directories-below",
        {".gitignore": "a/**/\n", "a/x.py": "", "a/b/y.py": "", "a/b/c/z.py": "", "b/a/d/w.py": ""},
        [],
    ),
    (
        "double-star-right-after-the-literal-run",
        {".gitignore": "a**/b/\nc/d**/e/\n", "a/b/x.py": "", "ax/b/x.py": "", "ax/y/b/x.py": ""}
        | {"c/d/e/x.py": "", "c/dq/r/e/x.py": "", "c/q/e/x.py": ""},
        [],
    ),
    (
        "double-star-not-between-slashes",
        {".gitignore": "x/a**b\n**c.py\nd/**\n!d/k/**/\n**\\/e.py\n", "x/ab": "", "x/a/b": ""}
        | {"x/azzb": "", "c.py": "", "q/zc.py": "", "d/k/z/y.py": "", "d/y.py": "", "e.py": ""}
        | {"q/e.py": "", "q/r/e.py": ""},
        [],
    ),
    (
        "question-mark-and-brackets-take-one-byte",
        {".gitignore": "?.py\n[\xe9]x.py\n", "\xe9.py": "", "a.py": "", os.fsdecode(b"\xe9.py"): ""}
        | {"\xe9x.py": "", os.fsdecode(b"\xc3x.py"): "", os.fsdecode(b"\xa9x.py"): ""},
        [],
    ),
    (
        "escapes",
        {".gitignore": "\\*.py\n\\?x\n\\[a]\n\\!n\n!\\!n\n\\a\\b\n", "*.py": "", "a.py": ""}
        | {"?x": "", "ax": "", "[a]": "", "a": "", "!n": "", "n": "", "ab": ""},
        [],
    ),
]


@pytest.mark.parametrize(
    ("tree", "exclude_lines"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matches_git(tmp_path: Path, tree: Tree, exclude_lines: list[str]) -> None:
    make_tree(tmp_path, tree, exclude_lines)
    assert_same(tmp_path, context=tree)


def test_symlinked_gitignore_is_not_read(tmp_path: Path) -> None:
    """git (2.32+) refuses a .gitignore that is a symlink; so does the walker."""
    make_tree(tmp_path, {"rules": "x.py\nd/\n", "x.py": "", "d/y.py": "", "sub/x.py": ""})
    (tmp_path / ".gitignore").symlink_to("rules")
    (tmp_path / "sub" / ".gitignore").symlink_to("../rules")
    assert_same(tmp_path)
    assert_same(tmp_path, start="sub")
    assert py(walker_view(tmp_path)[1]) == {"x.py", "d/y.py", "sub/x.py"}


def test_start_below_root_reads_intermediate_gitignore(tmp_path: Path) -> None:
    tree = {"mid/.gitignore": "x.py\n", "mid/inner/x.py": "", "mid/inner/y.py": ""}
    make_tree(tmp_path, tree, ["*.txt.py"])
    (tmp_path / "mid" / "inner" / "a.txt.py").write_text("")
    assert_same(tmp_path, start="mid/inner")
    assert py(walker_view(tmp_path, "mid/inner")[1]) == {"mid/inner/y.py"}


def test_start_below_root_in_dir_reincluded_below(tmp_path: Path) -> None:
    tree = {".gitignore": "d/*\n!d/keep/\n", "d/keep/a/x.py": "", "d/keep/a/.gitignore": "y/\n"}
    tree |= {"d/keep/a/y/z.py": ""}
    make_tree(tmp_path, tree)
    assert_same(tmp_path, start="d/keep")
    assert py(walker_view(tmp_path, "d/keep")[1]) == {"d/keep/a/x.py"}


@pytest.mark.parametrize(
    "exclude",
    [
        ["b"],
        ["/b"],
        ["b/"],
        ["**/c"],
        ["sub/b/"],
        ["!keep.py"],
        ["*.py", "!b/**"],
        ["!ignored/"],
    ],
)
def test_exclude_matches_git_command_line_patterns(tmp_path: Path, exclude: list[str]) -> None:
    """--exclude patterns are root-relative and above every file, like ``git ls-files -x``."""
    tree = {
        ".gitignore": "keep.py\nignored/\n",
        "keep.py": "",
        "b/x.py": "",
        "sub/b/y.py": "",
        "sub/c/z.py": "",
        "sub/keep.py": "",
        "ignored/w.py": "",
        "top.py": "",
    }
    make_tree(tmp_path, tree)
    assert_same(tmp_path, exclude=exclude, context=exclude)


def test_no_ignore_enters_everything_but_vcs(tmp_path: Path) -> None:
    tree = {".gitignore": "*\n", "a/b/x.py": "", ".hg/h.py": "", ".svn/s.py": "", "y.py": ""}
    make_tree(tmp_path, tree, ["a/"])
    dirs, files = walker_view(tmp_path, use_ignore_files=False)
    assert dirs == {".", "a", "a/b"}
    assert py(files) == {"a/b/x.py", "y.py"}


def test_nested_repository_has_its_own_rules(tmp_path: Path) -> None:
    tree = {
        ".gitignore": "*.gen.py\nout/\n",
        "a.gen.py": "",
        "inner/a.gen.py": "",
        "inner/out/x.py": "",
        "inner/b.py": "",
        "inner/.gitignore": "b.py\n",
    }
    make_tree(tmp_path, tree)
    git(tmp_path / "inner", "init", "-q", ".")
    (tmp_path / "inner" / ".git" / "info" / "exclude").write_text("local/\n")
    (tmp_path / "inner" / "local").mkdir()
    (tmp_path / "inner" / "local" / "l.py").write_text("")
    # The inner repository's own view (git does not descend into it from outside).
    want_dirs, want_files = git_view(tmp_path / "inner")
    got_dirs, got_files = walker_view(tmp_path)
    assert want_dirs is not None
    assert {d for d in got_dirs if _under(d, "inner")} == {
        "inner" if d == "." else f"inner/{d}" for d in want_dirs
    }
    assert {f for f in got_files if _under(f, "inner")} == {f"inner/{f}" for f in want_files}
    # And started inside it, the outer rules do not apply either.
    inner_files = {f for f in got_files if _under(f, "inner")}
    assert walker_view(tmp_path, "inner") == (got_dirs - {"."}, inner_files)


def test_gitignore_in_git_worktree_file(tmp_path: Path) -> None:
    """A .git *file* (worktree, submodule) points at the git dir whose info/exclude counts."""
    main = tmp_path / "main"
    make_tree(main, {"README": ""}, ["drop/"])
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "add", "README")
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"))
    wt = tmp_path / "wt"
    assert (wt / ".git").is_file()
    (wt / "drop").mkdir()
    (wt / "drop" / "d.py").write_text("")
    (wt / "keep").mkdir()
    (wt / "keep" / "k.py").write_text("")
    assert_same(wt)
    assert walker_view(wt)[0] == {".", "keep"}


# --- what git tracks ---------------------------------------------------------------------


def test_tracked_paths_are_never_ignored(tmp_path: Path) -> None:
    """``lib/`` ignored (GitHub's Python.gitignore has it) and ``src/pkg/lib/mod.py`` force-added:
    git walks into the directory for what it tracks, and ignores everything else in it."""
    tree = {
        ".gitignore": "lib/\n*.log.py\n",
        "src/pkg/lib/mod.py": "",
        "src/pkg/lib/other.py": "",
        "src/pkg/lib/.gitignore": "!other.py\n!sub/\n",  # git reads no file in there
        "src/pkg/lib/sub/x.py": "",
        "src/pkg/lib/deep/er/t.py": "",
        "src/pkg/lib/deep/u.py": "",
        "src/pkg/lib/__pycache__/mod.cpython-311.pyc": "",
        "src/pkg/lib/deep/er/__pycache__/t.cpython-311.pyc": "",
        "a.log.py": "",
        "b.log.py": "",
        "lib/c.py": "",
    }
    tracked = ["src/pkg/lib/mod.py", "src/pkg/lib/deep/er/t.py", "a.log.py"]
    make_tree(tmp_path, tree, tracked=tracked)
    assert_same(tmp_path)
    assert_same(tmp_path, start="src")
    dirs, files = walker_view(tmp_path)
    assert {"src/pkg/lib", "src/pkg/lib/deep", "src/pkg/lib/deep/er"} <= dirs
    assert not {"src/pkg/lib/sub", "lib"} & dirs
    assert py(files) == {"src/pkg/lib/mod.py", "src/pkg/lib/deep/er/t.py", "a.log.py"}


def test_tracked_path_keeps_its_cache_in_the_audit(tmp_path: Path) -> None:
    from pycache_tool import scan

    pyc = "src/pkg/lib/__pycache__/mod.cpython-311.pyc"
    tree = {".gitignore": "lib/\n", "src/pkg/lib/mod.py": "", "src/pkg/lib/x.py": "", pyc: ""}
    make_tree(tmp_path, tree, tracked=["src/pkg/lib/mod.py"])
    assert str(tmp_path / pyc) in {r.path for r in scan([str(tmp_path)])}


def test_exclude_applies_to_tracked_paths_too(tmp_path: Path) -> None:
    """``--exclude`` is the user's own word: unlike the ignore files, it skips tracked paths."""
    tree = {".gitignore": "lib/\n", "lib/a.py": "", "lib/b.py": "", "vendor/c.py": "", "d.py": ""}
    make_tree(tmp_path, tree, tracked=["lib/a.py", "vendor/c.py", "d.py"])
    assert walker_view(tmp_path, exclude=["vendor/", "d.py"]) == (
        {".", "lib"},
        {".gitignore", "lib/a.py"},
    )


def test_git_runs_once_per_repository_and_never_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    run_git = Repository._git

    def spy(self: Repository, *args: str) -> bytes | None:
        calls.append((_rel(tmp_path, self.root), args[0]))
        return run_git(self, *args)

    monkeypatch.setattr(Repository, "_git", spy)
    ignoring = {".gitignore": "build/\ndist/\n*.gen.py\n", "build/a.py": "", "dist/b.py": ""}
    ignoring |= {"x.gen.py": "", "y.gen.py": "", "pkg/build/c.py": "", "pkg/z.gen.py": ""}
    plain = tmp_path / "plain"
    for rel, text in ignoring.items():
        (plain / rel).parent.mkdir(parents=True, exist_ok=True)
        (plain / rel).write_text(str(text))
    walker_view(plain)
    assert calls == []  # no repository: git is never run
    make_tree(tmp_path / "quiet", {"a.py": "", "pkg/b.py": ""})
    walker_view(tmp_path / "quiet")
    assert calls == [("quiet", "config")]  # nothing ignored: what git tracks is never asked
    calls.clear()
    make_tree(tmp_path / "repo", ignoring | {"nested/.gitignore": "out/\n", "nested/out/o.py": ""})
    git(tmp_path / "repo" / "nested", "init", "-q", ".")
    walker_view(tmp_path / "repo")
    assert calls == [
        ("repo", "config"),
        ("repo", "ls-files"),
        ("repo/nested", "config"),
        ("repo/nested", "ls-files"),
    ]


# --- the configuration git reads ------------------------------------------------------------

GLOBAL_RULES = "*.gen.py\nout/\n!keep.gen.py\n"
CONFIG_TREE = {
    ".gitignore": "!mine.gen.py\n",
    "a.gen.py": "",
    "keep.gen.py": "",
    "mine.gen.py": "",
    "info.gen.py": "",
    "out/x.py": "",
    "sub/b.gen.py": "",
}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("where", ["xdg", "home", "empty-xdg"])
def test_default_excludes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """core.excludesFile unset: ``$XDG_CONFIG_HOME/git/ignore``, else ``~/.config/git/ignore``;
    below info/exclude, which is below every .gitignore."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    if where == "xdg":
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
        _write(tmp_path / "xdg" / "git" / "ignore", GLOBAL_RULES)
        _write(home / ".config" / "git" / "ignore", "*\n")  # not read: XDG wins
    else:
        if where == "home":
            monkeypatch.delenv("XDG_CONFIG_HOME")
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", "")
        _write(home / ".config" / "git" / "ignore", GLOBAL_RULES)
    make_tree(tmp_path / "repo", CONFIG_TREE, ["!info.gen.py"])
    assert_same(tmp_path / "repo")
    assert_same(tmp_path / "repo", start="sub")
    assert py(walker_view(tmp_path / "repo")[1]) == {"keep.gen.py", "mine.gen.py", "info.gen.py"}


@pytest.mark.parametrize("value", ["~/rules/global", "{tmp}/rules/global", "rel/global", ""])
def test_core_excludes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """A configured file replaces the default; a relative one is the work tree's; an empty
    value means none at all."""
    monkeypatch.setenv("HOME", str(tmp_path))
    _write(tmp_path / "xdg" / "git" / "ignore", "*.py\n")  # the default: read only when unset
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    _write(tmp_path / "rules" / "global", GLOBAL_RULES)
    _write(tmp_path / "repo" / "rel" / "global", GLOBAL_RULES)
    config = {"core.excludesFile": value.format(tmp=tmp_path)}
    make_tree(tmp_path / "repo", CONFIG_TREE, config=config)
    assert_same(tmp_path / "repo")
    got = py(walker_view(tmp_path / "repo")[1])
    assert ("a.gen.py" in got) == (value == "")


def test_core_excludes_file_from_the_global_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read through git: the user's config (and what it includes) counts, not only the repo's."""
    _write(tmp_path / "rules", GLOBAL_RULES)
    included = _write(tmp_path / "included", f"[core]\n\texcludesFile = {tmp_path}/rules\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(_write(tmp_path / "gitconfig", "")))
    git(tmp_path, "config", "--global", "include.path", str(included))
    make_tree(tmp_path / "repo", CONFIG_TREE)
    assert_same(tmp_path / "repo")
    assert "a.gen.py" not in walker_view(tmp_path / "repo")[1]


def test_core_ignorecase(tmp_path: Path) -> None:
    """core.ignorecase=true folds ASCII letters only, git's way (an escaped capital or a
    capital inside brackets then matches nothing)."""
    tree = {
        ".gitignore": "BUILD/\n*.GEN.py\n[a-c]x.py\n[A-C]y.py\n\\Az.py\n\\bz.py\n[D]w.py\n"
        "\xc9t.py\n[[:upper:]]u.py\n",
        "build/x.py": "",
        "Build/y.py": "",
        "a.gen.py": "",
        "b.Gen.py": "",
        "Ax.py": "",
        "ay.py": "",
        "dx.py": "",
        "Az.py": "",
        "az.py": "",
        "Bz.py": "",
        "dw.py": "",
        "Dw.py": "",
        "\xe9t.py": "",
        "\xc9t.py": "",
        "qu.py": "",
        "1u.py": "",
    }
    make_tree(tmp_path, tree, config={"core.ignorecase": "true"})
    assert_same(tmp_path)
    dirs, files = walker_view(tmp_path)
    assert "build" not in dirs and "Build" not in dirs
    assert {"Ax.py", "b.Gen.py", "qu.py"}.isdisjoint(files)
    assert {"Az.py", "Dw.py", "\xe9t.py", "1u.py"} <= files


# --- generated trees ---------------------------------------------------------------------

NAMES = ["a", "b", "c", "build", "keep"]
FILES = ["x.py", "keep.py", "a.py", "n.txt"]
PATTERNS = [
    "x.py",
    "!x.py",
    "keep.py",
    "!keep.py",
    "*.py",
    "!*.py",
    "*.txt",
    "a",
    "!a",
    "a/",
    "!a/",
    "/a",
    "/b/",
    "!/b",
    "b/*",
    "!b/c",
    "!b/c/",
    "**/c",
    "**/c/",
    "!**/c",
    "a/**",
    "!a/**",
    "a/**/",
    "a/**/x.py",
    "**/keep",
    "keep/",
    "!keep/",
    "build/",
    "!build/",
    "*",
    "!*/",
    "*/",
    "a/x.py",
    "/x.py",
    "c/*.py",
    "[ab]/",
    "[!a]*.py",
    "[[:alpha:]]",
    "__pycache__/",
    "*.pyc",
    "*.py[cod]",
    "b",
    "!b",
]

dir_paths = st.lists(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join),
    max_size=6,
    unique=True,
)
pattern_lists = st.lists(st.sampled_from(PATTERNS), max_size=4)


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict[str, str], list[str], list[str]]:
    dirs = {"."}
    for path in draw(dir_paths):
        parts = path.split("/")
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    tree: dict[str, str] = {}
    for directory in sorted(dirs):
        prefix = "" if directory == "." else directory + "/"
        tree[prefix] = ""
        for name in draw(st.lists(st.sampled_from(FILES), max_size=3, unique=True)):
            tree[prefix + name] = ""
        if draw(st.booleans()):
            tree[prefix + "__pycache__/x.cpython-311.pyc"] = ""
        lines = draw(pattern_lists)
        if lines:
            tree[prefix + ".gitignore"] = "".join(line + "\n" for line in lines)
    tree.pop("", None)
    files = sorted(p for p in tree if not p.endswith("/") and "__pycache__" not in p)
    tracked = draw(st.lists(st.sampled_from(files), max_size=3, unique=True)) if files else []
    return tree, draw(st.lists(st.sampled_from(PATTERNS), max_size=3)), tracked


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,  # the same trees on every run: CI must not turn red by chance
)
@given(case=trees(), start=st.sampled_from([".", "a", "b", "a/b"]))
def test_generated_trees_match_git(
    case: tuple[dict[str, str], list[str], list[str]], start: str
) -> None:
    tree, exclude_lines, tracked = case
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_tree(root, tree, exclude_lines, tracked=tracked)
        context = f"tree={tree!r}\ninfo/exclude={exclude_lines!r}\ntracked={tracked}\nstart={start}"
        assert_same(root, context=context)
        # Starting below the root gives the same answers for that subtree, as long as git
        # would enter it for itself, not only for what it tracks (a directory named on
        # purpose is walked even when ignored), and the start does not carry a venv-style
        # "*" .gitignore, which a named PATH does not apply.
        all_dirs, shut = ignored_dirs(root)
        own = read_patterns(str(root / start / ".gitignore"))
        venv_like = own is not None and ignores_everything(own)
        if start in all_dirs - shut and start != "." and not venv_like:
            assert_same(root, start=start, context=context)


def test_reading_a_repository_runs_none_of_its_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading the index runs core.fsmonitor; the tool reads it with the monitor off."""
    from pycache_tool.cli import main

    marker = tmp_path / "ran"
    tree = {".gitignore": "lib/\n", "lib/a.py": "", "b.py": "", "__pycache__/c.cpython-311.pyc": ""}
    make_tree(tmp_path / "repo", tree, tracked=["lib/a.py", "b.py", "__pycache__"])
    git(tmp_path / "repo", "config", "core.fsmonitor", f"touch {marker}; false")
    git(tmp_path / "repo", "status", ok=(0, 1, 128))
    assert marker.exists()  # git itself runs it
    marker.unlink()
    assert main(["audit", "--check", str(tmp_path / "repo")]) == 1  # the tracked cache
    assert "bytecode tracked by git (1)" in capsys.readouterr().out
    assert not marker.exists()
    assert walker_view(tmp_path / "repo")[0] == {".", "lib"}  # lib/ holds a tracked file
    assert not marker.exists()
