"""Turn an importtime measurement into text or JSON. Returns strings; the CLI writes them."""

from __future__ import annotations

import json
from typing import Any

from pycache_tool.importtime import Measurement, ModuleGain, Run
from pycache_tool.reports.common import SCHEMA
from pycache_tool.reports.style import paint


def _ms(us: int) -> str:
    return f"{us / 1000:.1f} ms"


def _speedup(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}x"


def headline(m: Measurement, color: bool = False) -> str:
    """The one line that answers the question, also all that ``--quiet`` prints.

    It leads with the part the user's own caches decide: a cold standard library is cold here
    only because the measurement's prefix starts empty, and an installed Python never pays it.
    """
    runs = "1 run" if m.repeat == 1 else f"medians of {m.repeat} runs"
    if m.own_cold_us == 0:  # a standard-library module: nothing of the user's to lead with
        faster = paint(_speedup(m.speedup), "green", color and (m.speedup or 0) > 1)
        return (
            f"import {m.module} ({m.target.name}): {_ms(m.cold_us)} cold, {_ms(m.warm_us)} warm,"
            f" {faster} faster with the cache, all of it in the standard library ({runs} each)"
        )
    speedup = m.own_speedup
    faster = paint(_speedup(speedup), "green", color and (speedup or 0) > 1)
    stdlib = (
        f"; the standard library adds {_ms(m.cold_stdlib_us)} cold"
        if m.cold_stdlib_us > m.warm_stdlib_us
        else ""
    )
    return (
        f"import {m.module} ({m.target.name}): {_ms(m.own_cold_us)} cold, {_ms(m.own_warm_us)}"
        f" warm outside the standard library, {faster} faster with your caches{stdlib}"
        f" ({runs} each)"
    )


def importtime_text(
    m: Measurement,
    *,
    top: int,
    quiet: bool = False,
    verbose: bool = False,
    color: bool = False,
) -> str:
    """The headline; then (unless ``quiet``) cold/warm/saved for MODULE, its standard-library
    part and the whole process (interpreter start-up included), and the ``top`` modules that
    save most (0: every one); ``verbose`` adds every run's time."""
    out = [headline(m, color)]
    if quiet:
        return out[0] + "\n"
    rows = [
        (m.module, m.cold_us, m.warm_us),
        ("  of which stdlib", m.cold_stdlib_us, m.warm_stdlib_us),
        ("whole process", m.cold_all_us, m.warm_all_us),
    ]
    out += ["", *_table("", [(name, cold, warm, "") for name, cold, warm in rows], color)]
    shown = list(m.modules) if top == 0 else list(m.modules[:top])
    if shown:
        out += [
            "",
            paint(
                f"modules that gain most (self time, {len(shown)} of {len(m.modules)})",
                "bold",
                color,
            ),
            *_table("module", [_module_row(g, color) for g in shown], color),
        ]
    if m.cold_stdlib_us > m.warm_stdlib_us:
        out += [
            "",
            f"note: {_ms(m.cold_stdlib_us - m.warm_stdlib_us)} of the gain is in standard-library"
            " modules, cold here only because",
            "the prefix is empty (an installed Python has them precompiled)",
        ]
    if verbose:
        out += ["", f"runs of import {m.module}, in the order they ran:"]
        out += [f"  {kind}: {_runs(runs)}" for kind, runs in (("cold", m.cold), ("warm", m.warm))]
    return "\n".join(out) + "\n"


def _module_row(gain: ModuleGain, color: bool) -> tuple[str, int, int, str]:
    mark = {True: "stdlib", False: "", None: "?"}[gain.stdlib]
    return (
        gain.name,
        gain.cold_self_us,
        gain.warm_self_us,
        paint(mark, "dim", color and bool(mark)),
    )


def _table(title: str, rows: list[tuple[str, int, int, str]], color: bool) -> list[str]:
    width = max(len(title), *(len(name) for name, *_ in rows))
    head = f"  {title:<{width}}  {'cold':>10}  {'warm':>10}  {'saved':>10}"
    lines = [paint(head.rstrip(), "bold", color)]
    for name, cold, warm, note in rows:
        line = f"  {name:<{width}}  {_ms(cold):>10}  {_ms(warm):>10}  {_ms(cold - warm):>10}"
        lines.append(f"{line}  {note}" if note else line)
    return lines


def _runs(runs: tuple[Run, ...]) -> str:
    return ", ".join(f"{r.module_us / 1000:.1f}" for r in runs) + " ms"


def importtime_json(m: Measurement, *, top: int) -> str:
    shown = m.modules if top == 0 else m.modules[:top]
    target = m.target
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "command": "importtime",
        "module": m.module,
        "target": {
            "name": target.name,
            "tag": target.tag,
            "python": target.python,
            "magic": target.magic,
            "executable": target.executable,
        },
        "repeat": m.repeat,
        "cold": _kind(m.cold_us, m.cold_stdlib_us, m.cold_all_us, m.cold),
        "warm": _kind(m.warm_us, m.warm_stdlib_us, m.warm_all_us, m.warm),
        "speedup": None if m.speedup is None else round(m.speedup, 2),
        # The part the user's own caches decide (MODULE less its standard-library modules).
        "own": {
            "cold_us": m.own_cold_us,
            "warm_us": m.own_warm_us,
            "speedup": None if m.own_speedup is None else round(m.own_speedup, 2),
        },
        "modules_total": len(m.modules),
        "modules": [
            {
                "name": g.name,
                "stdlib": g.stdlib,
                "cold_self_us": g.cold_self_us,
                "warm_self_us": g.warm_self_us,
                "saved_self_us": g.saved_self_us,
                "cold_cumulative_us": g.cold_cumulative_us,
                "warm_cumulative_us": g.warm_cumulative_us,
                "saved_cumulative_us": g.saved_cumulative_us,
            }
            for g in shown
        ],
    }
    return json.dumps(document, indent=1) + "\n"


def _kind(module_us: int, stdlib_us: int, process_us: int, runs: tuple[Run, ...]) -> dict[str, Any]:
    return {
        "module_us": module_us,
        "stdlib_us": stdlib_us,
        "process_us": process_us,
        "runs_us": [r.module_us for r in runs],
    }
