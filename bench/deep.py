"""Section "deep": what ``audit --deep`` costs over the header-only audit.

Both run on the benchmark tree with every interpreter whose standard library it holds as a
``--python`` target, so that the deep check has an interpreter for every cache it would read
and checks them all (each in a worker of its own version, reading whole files and
unmarshalling them), as JSON. The audit reads 16 bytes of each cache; the deep audit reads
every byte of the caches that would be loaded as well (the tree's pycs are several hundred
MB), so the ratio is the price of ``--deep``, and the reason it is not the default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import corpus
from fresh import _count_pycs
from harness import Check, Context, Measure, Section, section


@section("deep")
def deep(ctx: Context) -> Section:
    tree = ctx.tree
    versions = sorted(
        name.split("-", 1)[1] for name in os.listdir(tree) if name.startswith("cpython-")
    )
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    pythons = [i.exe for i in corpus.find_interpreters(versions, pyenv_root)]
    targets = [arg for exe in pythons for arg in ("--python", exe)]
    audit = (ctx.tool, "audit", tree, "--format", "json", *targets)

    def measure(key: str, label: str, *extra: str) -> Measure:
        return Measure(key, label, (*audit, *extra), env=ctx.env, cwd=ctx.bench_dir)

    return Section(
        name="deep",
        title="audit --deep (the code after every header) vs audit (headers only)",
        measures=[
            measure("audit", "pycache-tool audit --format json"),
            measure("audit-deep", "pycache-tool audit --deep --format json", "--deep"),
        ],
        # A budget, not a promise: the deep check reads every byte of the caches.
        checks=[Check("audit --deep / audit", "audit-deep", "audit", 8.0, at_most=True)],
        notes=[f"targets (--python): {', '.join(pythons)}"],
        per_item=(_count_pycs(tree), "pyc"),
        inspect=_inspect,
    )


def _inspect(outputs: Mapping[str, bytes]) -> list[str]:
    """What the deep audit checked, from its warm-up run."""
    try:
        summary = json.loads(outputs["audit-deep"])["summary"]
        found = summary["deep"]
        lines = [
            f"audit --deep saw {summary['files']} cache files: checked {found['ok']} ok and"
            f" {found['damaged']} damaged, {found['not_checked']} not checked"
        ]
        lines += [f"  not checked, Python {k}: {v}" for k, v in found["unchecked"].items()]
    except (KeyError, ValueError, TypeError) as exc:
        lines = [f"audit --deep json output unreadable: {exc!r}"]
    return lines
