"""The deep check against the real interpreters: code after a valid header.

Each case is built like those of ``test_loads_real`` (the interpreter compiles ``V = 'aaaa'``,
the source then says ``V = 'bbbb'`` with the same size and mtime, so the header stays fresh),
and then the code after the header is damaged, or not. The interpreter imports every module:
``aaaa`` means the cache ran, ``bbbb`` that import recompiled the source, an exception that
import failed on the cache. ``audit --deep`` must say ``fresh``/"ok" for the first,
``stale`` (not checked: its code is never read) for the second, and ``corrupt``/"damaged"
for the third, with the interpreter's own words in the reason. Without an interpreter of the
cache's version the deep check says "not checked" and the header's verdict stands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from pycache_tool import Record, Status, scan
from pycache_tool.bytecode.interpreters import Interpreter, current, from_tag
from pycache_tool.bytecode.pyc import magic_info

from .conftest import interpreter_params
from .test_loads_real import SEC, T0, Case, Damage, compile_all, import_all, target_of

VERSIONS = ["2.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "pypy3"]


def _body(edit: Callable[[bytes], bytes]) -> Damage:
    """Damage that rewrites the code after the header: ``edit(body) -> new body``."""

    def damage(cache: Path, staged: Path, target: Interpreter) -> None:
        info = magic_info(target.magic)
        assert info is not None
        data = cache.read_bytes()
        cache.write_bytes(data[: info.header_size] + edit(data[info.header_size :]))

    return damage


TRUNCATED = _body(lambda body: body[: len(body) // 2])
UNKNOWN_TYPE = _body(lambda body: b"\x00" + body[1:])
NOT_CODE = _body(lambda body: b"i" + (42).to_bytes(4, "little"))  # marshal of the int 42
TRAILING = _body(lambda body: body + b"trailing bytes marshal never reads")


def cases(exe: str) -> list[Case]:
    home = "beside" if target_of(exe).tag is None else "pycache"
    case = functools.partial(Case, old="aaaa", new="bbbb", where=home)
    return [
        case("d_intact", status=Status.FRESH, loads=True),
        case("d_trailing", status=Status.FRESH, loads=True, damage=TRAILING),
        case("d_truncated", status=Status.CORRUPT, loads=False, damage=TRUNCATED),
        case("d_unknown_type", status=Status.CORRUPT, loads=False, damage=UNKNOWN_TYPE),
        case("d_not_code", status=Status.CORRUPT, loads=False, damage=NOT_CODE),
        # Stale: import recompiles without reading the code, so it is not checked.
        case(
            "d_stale_truncated",
            status=Status.STALE,
            loads=False,
            damage=TRUNCATED,
            source_ns=T0 + 10 * SEC,
        ),
    ]


@pytest.mark.parametrize("exe", interpreter_params(VERSIONS))
def test_deep_check_agrees_with_import(exe: str, tmp_path: Path) -> None:
    """Damaged code after a valid header is what makes import fail; nothing else is reported."""
    every = cases(exe)
    caches = compile_all(exe, target_of(exe).tag is None, tmp_path, every)
    seen = import_all(exe, tmp_path, every)
    tree = str(tmp_path / "tree")
    records = {r.path: r for r in scan([tree], targets=[target_of(exe)], deep=True)}
    problems = []
    for case in every:
        value, record = seen[case.name], records[str(caches[case.name])]
        if value == case.old:
            outcome, status, deep = "ran the cache", Status.FRESH, "ok"
        elif value == case.new:
            outcome, status, deep = "recompiled the source", Status.STALE, None
        elif value.startswith(("!EOFError", "!ValueError", "!ImportError")):
            outcome, status, deep = f"failed ({value})", Status.CORRUPT, "damaged"
        else:
            problems.append(f"{case.name}: the import gave {value!r}")
            continue
        if status is not case.status:
            problems.append(f"{case.name}: the interpreter {outcome}; this test expected otherwise")
        if (record.status, record.loads, record.deep) != (status, status is Status.FRESH, deep):
            problems.append(
                f"{case.name}: the interpreter {outcome}, but the tool said {record.status.value},"
                f" loads={record.loads}, deep={record.deep} ({record.reason})"
            )
        if deep == "damaged" and value[1:].split(":")[0] not in record.reason:
            problems.append(f"{case.name}: the reason does not say {value!r}: {record.reason}")
    assert not problems, "\n".join(problems)

    # No interpreter of the caches' version at hand: never a guess, the header's verdict stands.
    own = target_of(exe)
    tool = current()
    if (own.implementation, own.version) == (tool.implementation, tool.version):
        return
    elsewhere = from_tag("cpython-313" if own.version != "3.13" else "cpython-312")
    blind: dict[str, Record] = {r.path: r for r in scan([tree], targets=[elsewhere], deep=True)}
    for case in every:
        record = blind[str(caches[case.name])]
        header_says = Status.STALE if case.status is Status.STALE else Status.FRESH
        expected_deep = None if header_says is Status.STALE else "not checked"
        assert (record.status, record.deep) == (header_says, expected_deep), (case.name, record)
