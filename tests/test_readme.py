"""The front door and the manual tell the truth: the Guarantees page cites tests that exist (a
promise must not outlive its proof), the README stays short, links only to pages and anchors
that exist, and its snippets do what it shows: the quick start gives its output, the pre-commit
hooks run in the real pre-commit framework, and the Docker step runs (the image itself is
built only where a Docker engine exists, and even then only checked)."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
DOCKERFILE = ROOT / "examples" / "Dockerfile"
BIN = Path(sys.executable).parent
TOOL = BIN / "pycache-tool"
PRE_COMMIT = BIN / "pre-commit"
TAG = sys.implementation.cache_tag
README_TAG = "cpython-311"  # the interpreter that made the README's quick-start output


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The text of the level-2 section called `title`, up to the next one."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def block(text: str, language: str) -> str:
    """The one fenced code block of `language` in `text`."""
    found = re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)
    assert len(found) == 1, f"expected one {language} block, found {len(found)}"
    return str(found[0])


def load_yaml(text: str) -> Any:
    yaml = importlib.import_module("yaml")  # pre-commit's own dependency (no type stubs)
    return yaml.safe_load(text)


def test_every_cited_test_exists() -> None:
    text = (DOCS / "guarantees.md").read_text(encoding="utf-8")
    cited: list[tuple[str, str]] = []
    for cell in re.findall(r"\| ([^|]*`[^|]*::[^|]*) \|\n", text):
        module = ""
        for ref in re.findall(r"`([\w./]*)::(\w+)`", cell):
            module = ref[0] or module  # "`::name`" continues the module named before it
            cited.append((module, ref[1]))
    assert len(cited) > 30
    for module, name in cited:
        source = (ROOT / "tests" / module).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{module}::{name} is not a test"


def test_readme_is_a_front_door() -> None:
    assert README.stat().st_size <= 12 * 1024


def anchors(page: Path) -> set[str]:
    """The ids MkDocs gives the headings of a page (Python-Markdown's toc extension)."""
    markdown = importlib.import_module("markdown")  # MkDocs' own dependency (no type stubs)
    converter = markdown.Markdown(extensions=["toc", "tables", "fenced_code"])
    converter.convert(page.read_text(encoding="utf-8"))
    found: set[str] = set()
    tokens = list(converter.toc_tokens)
    while tokens:
        token = tokens.pop()
        found.add(token["id"])
        tokens.extend(token["children"])
    return found


def test_readme_links_lead_somewhere() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", readme())
    local = [link for link in links if "://" not in link]
    assert sum(link.startswith("docs/") for link in local) >= 10
    for link in local:
        target, _, anchor = link.partition("#")
        path = ROOT / target
        assert path.exists(), f"{link}: {target} does not exist"
        if anchor:
            assert path.suffix == ".md", link
            assert anchor in anchors(path), f"{link}: no heading with that anchor"


def test_every_docs_page_is_in_the_site() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        assert f" {page.name}\n" in nav, f"{page.name} is not in the mkdocs.yml nav"


# --- the quick start ----------------------------------------------------------------------


def quick_start_tree(root: Path) -> None:
    """The project the quick start describes: caches written, then the sources changed."""
    write(root / "app" / "__init__.py")
    write(root / "app" / "models" / "__init__.py")
    write(root / "app" / "views.py", 'def home():\n    return "home"\n')
    write(root / "app" / "models" / "user.py", "class User:\n    pass\n")
    write(root / "old" / "helpers.py", "def helper():\n    return 1\n")
    write(root / "manage.py", "import app\n")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "."], cwd=root, check=True)
    views = root / "app" / "views.py"
    mtime = views.stat().st_mtime_ns
    views.write_text('def home():\n    return "home page"\n', encoding="utf-8")
    os.utime(views, ns=(mtime, mtime))  # an edit the size gives away, whatever the clock did
    (root / "app" / "models" / "user.py").unlink()
    (root / "old" / "helpers.py").unlink()
    write(root / "app" / "profile.py", 'def profile():\n    return "me"\n')


def comparable(output: str) -> list[str]:
    """Output without what differs from machine to machine: the interpreter's tag, the sizes
    of its pycs, times, the number of workers (one per CPU), and column widths."""
    output = output.replace(README_TAG, TAG)
    output = re.sub(r"\b\d+(\.\d+)? (B|KiB|MiB)\b", "SIZE", output)
    output = re.sub(r"\b\d+\.\d+ s\b", "SECONDS", output)
    output = re.sub(r"\b\d+ workers?\b", "N workers", output)
    return [" ".join(line.split()) for line in output.strip("\n").split("\n")]


def console_steps(text: str) -> list[tuple[str, str]]:
    """(command, output) for each `$ command` of a console block."""
    steps: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], ""))
        else:
            command, output = steps[-1]
            steps[-1] = (command, output + line + "\n")
    return steps


def test_quick_start_gives_the_output_shown(tmp_path: Path) -> None:
    steps = console_steps(block(section(readme(), "Quick start"), "console"))
    assert [command.split()[:2] for command, _ in steps] == [
        ["pycache-tool", "audit"],
        ["pycache-tool", "clean"],
        ["pycache-tool", "compile"],
        ["pycache-tool", "audit"],
    ]
    quick_start_tree(tmp_path)
    for command, shown in steps:
        argv = shlex.split(command)
        done = subprocess.run(
            [str(TOOL), *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert (done.returncode, done.stderr) == (0, ""), command
        assert comparable(done.stdout) == comparable(shown), command


# --- pre-commit -----------------------------------------------------------------------------


def readme_hooks() -> Any:
    return load_yaml(block(section(readme(), "pre-commit"), "yaml"))


def test_readme_hooks_are_the_manifests_and_the_recipes() -> None:
    config = readme_hooks()
    manifest = load_yaml((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    [repo] = config["repos"]
    assert repo["repo"] == "local"
    assert [hook["id"] for hook in repo["hooks"]] == [hook["id"] for hook in manifest]
    for mine, theirs in zip(repo["hooks"], manifest):
        for key in ("name", "entry", "files", "pass_filenames", "always_run", "stages"):
            assert mine.get(key) == theirs.get(key), (mine["id"], key)
        # language: python makes pre-commit install the tool; locally it is installed already.
        assert mine["language"] == {"python": "system"}.get(theirs["language"], theirs["language"])
    recipes = (DOCS / "recipes.md").read_text(encoding="utf-8")
    assert block(section(readme(), "pre-commit"), "yaml") in recipes


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed (make test)")
def test_readme_hooks_work_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "PRE_COMMIT", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # pycache-tool is installed
    )
    repo = tmp_path / "repo"
    repo.mkdir()

    def run(*argv: str, ok: int = 0) -> str:
        done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == ok, f"{argv}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    run("git", "init", "-q")
    run("git", "config", "user.name", "Test")
    run("git", "config", "user.email", "test@example.com")
    write(repo / ".pre-commit-config.yaml", block(section(readme(), "pre-commit"), "yaml"))
    run(str(PRE_COMMIT), "install")  # as the README says: every hook type the config names
    for hook_type in ("pre-commit", "post-checkout", "post-merge"):
        assert (repo / ".git" / "hooks" / hook_type).is_file(), hook_type

    # forbid-bytecode: a commit that stages a cache is refused, and says how to unstage it.
    for rel in ("pkg/__init__.py", "pkg/kept.py", "pkg/dropped.py", "oldpkg/mod.py"):
        write(repo / rel, f"NAME = {rel!r}\n")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "."], cwd=repo, check=True)
    run("git", "add", "-A")
    out = run("git", "commit", "-m", "with bytecode", ok=1)
    assert "git rm -r --cached" in out and f"pkg/__pycache__/kept.{TAG}.pyc" in out
    run("git", "rm", "-r", "-q", "--cached", "--", "pkg/__pycache__", "oldpkg/__pycache__")
    run("git", "commit", "-q", "-m", "sources only")

    # pycache-clean-after-checkout: caches of modules gone on the other branch go with them.
    run("git", "checkout", "-q", "-b", "cleanup")
    run("git", "rm", "-q", "pkg/dropped.py", "oldpkg/mod.py")
    run("git", "commit", "-q", "-m", "drop a module and a package")
    run("git", "checkout", "-q", "main")
    run("git", "checkout", "-q", "cleanup")
    assert not (repo / "pkg" / "__pycache__" / f"dropped.{TAG}.pyc").exists()
    assert not (repo / "oldpkg").exists()  # the ghost package went, its caches with it
    assert (repo / "pkg" / "__pycache__" / f"kept.{TAG}.pyc").is_file()

    # pycache-audit, as CI runs it: passes on healthy caches, fails on a stale one.
    manual = (str(PRE_COMMIT), "run", "--hook-stage", "manual", "pycache-audit", "--all-files")
    run(*manual)
    write(repo / "pkg" / "kept.py", "NAME = 'edited, and longer'\n")
    assert "stale" in run(*manual, ok=1)


# --- Docker -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    return [" ".join(i.split()) for i in "\n".join(lines).replace("\\\n", " ").split("\n") if i]


def test_dockerfile_installs_the_tool_from_its_own_checkout() -> None:
    instructions = dockerfile_instructions()
    copies = [i.split()[1:] for i in instructions if i.startswith("COPY ")]
    local = [args for args in copies if not args[0].startswith("--")]
    assert local, "the Dockerfile copies nothing from its build context"
    for args in local:
        for source in args[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the checkout"
    installs = re.findall(r"pip install ([^&;\n]*)", "\n".join(instructions))
    requirements = [arg for args in installs for arg in args.split() if not arg.startswith("-")]
    assert "/src" in requirements  # the checkout, copied
    assert "pycache-tool" not in requirements  # not published: never from an index


def test_docker_snippets_are_the_dockerfiles() -> None:
    steps = " ".join(dockerfile_instructions())
    for page in (README, DOCS / "compile.md"):
        snippet = block(page.read_text(encoding="utf-8"), "dockerfile")
        assert " ".join(snippet.replace("\\\n", " ").split()) in steps, page.name


def test_docker_step_runs_as_written(tmp_path: Path) -> None:
    """The README's RUN step, with /app where the example application was copied to."""
    app = tmp_path / "app"
    shutil.copytree(
        ROOT / "examples" / "docker-app", app, ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(app / ".venv")], check=True)
    # BuildKit's mounts are the builder's; the cache mount's directory is a temporary one here.
    step = re.sub(r"\ARUN (--mount=\S+ )*", "", block(section(readme(), "Docker"), "dockerfile"))
    step = step.replace("/cache", str(tmp_path / "cache")).replace("/app", str(app))
    step = step.replace("pycache-tool ", f"{TOOL} ")
    for from_cache, compiled in ((0, 2), (2, 0)):  # a first build, then one with the cache
        for pycache in list(app.rglob("__pycache__")):
            shutil.rmtree(pycache)
        done = subprocess.run(["bash", "-c", step], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (
            "wrote 2 of 2 caches (level 0, unchecked-hash):"
            f" {from_cache} from the compile cache, {compiled} compiled"
        ) in done.stdout
        assert done.stdout.count("coverage:") == 2


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not docker_engine(), reason="no Docker engine here: the image is not checked")
def test_dockerfile_passes_dockers_own_checks() -> None:
    # `--check` evaluates the Dockerfile without building the image.
    subprocess.run(
        ["docker", "build", "--check", "-f", str(DOCKERFILE), str(ROOT)], check=True, timeout=600
    )


def test_readme_writes_down_the_compile_cache_key() -> None:
    """Everything the key is made of, as the code makes it, is named in the README's section."""
    from pycache_tool.compile import cache

    text = " ".join(section(readme(), "The compile cache").split())
    key = text[text.index("**The key:**") : text.index("**Safe to share:**")]
    named = {  # the interpreter's identity, field by field, as the README words it
        "implementation": "implementation",
        "version": "full `sys.version`",
        "tag": "cache tag",
        "magic": "magic number",
        "marshal": "marshal version",
    }
    assert set(cache.identity()) == set(named)
    for words in [*named.values(), "SHA-256", "optimization level", f"`{cache.LAYOUT}`"]:
        assert words in key, words
    assert "BuildKit cache mount" in text and "never in the image" in text
