"""Name and header parsers, the magic table and SipHash: tables plus property tests."""

from __future__ import annotations

import csv
import importlib.util
import os
import runpy
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pycache_tool.bytecode import magic_table
from pycache_tool.bytecode.interpreters import final_magics, from_tag, source_hash
from pycache_tool.bytecode.magic_table import MAGIC_TABLE
from pycache_tool.bytecode.pyc import base_tag, parse_cache_name, parse_header, tag_version
from pycache_tool.bytecode.siphash import siphash

TOOLS = Path(__file__).resolve().parents[1] / "tools"
CSV = TOOLS / "magic-numbers.csv"  # the generator's input


@pytest.mark.parametrize(
    ("name", "stem", "tag", "opt", "debris", "problem"),
    [
        ("m.cpython-312.pyc", "m", "cpython-312", 0, False, None),
        ("m.cpython-312.opt-1.pyc", "m", "cpython-312", 1, False, None),
        ("m.cpython-312.opt-2.pyc", "m", "cpython-312", 2, False, None),
        ("m.pypy39.opt-1.pyc", "m", "pypy39", 1, False, None),
        ("c.d.cpython-313.pyc", "c.d", "cpython-313", 0, False, None),
        ("m.cpython-34.pyo", "m", "cpython-34", 1, False, None),
        ("m.cpython-313.pyc.140234", "m", "cpython-313", 0, True, None),
        ("t.cpython-311-pytest-8.3.2.pyc", "t", "cpython-311-pytest-8.3.2", 0, False, None),
        ("m.pyc", "m", None, 0, False, "name is not STEM.TAG[.opt-N].pyc"),
        (".cpython-312.pyc", ".cpython-312", None, 0, False, "name is not STEM.TAG[.opt-N].pyc"),
        (
            "m.cpython-312.opt-3.pyc",
            "m.cpython-312",
            None,
            0,
            False,
            "unknown optimization tag 'opt-3'",
        ),
    ],
)
def test_cache_names(
    name: str, stem: str, tag: str | None, opt: int, debris: bool, problem: str | None
) -> None:
    parsed = parse_cache_name(name)
    assert parsed is not None
    assert (parsed.stem, parsed.tag, parsed.optimization, parsed.debris, parsed.problem) == (
        stem,
        tag,
        opt,
        debris,
        problem,
    )


@pytest.mark.parametrize("name", ["m.py", "README", "m.pyc.txt", "m.pyd", "m.pycx", ""])
def test_not_cache_names(name: str) -> None:
    assert parse_cache_name(name) is None


def test_cache_names_agree_with_importlib() -> None:
    """Every name importlib itself would write parses back to the same stem and tag."""
    for level in ("", 1, 2):
        cache = importlib.util.cache_from_source("/x/some_mod.py", optimization=level)
        parsed = parse_cache_name(os.path.basename(cache))
        assert parsed is not None
        assert parsed.stem == "some_mod"
        assert parsed.tag == sys.implementation.cache_tag
        assert parsed.optimization == (level or 0)


def test_tags() -> None:
    assert tag_version("cpython-312") == ("cpython", "3.12")
    assert tag_version("pypy310") == ("pypy", "3.10")
    assert tag_version("cpython-311-pytest-8.3.2") == ("cpython", "3.11")
    assert tag_version("graalpy-242") is None
    assert base_tag("cpython-311-pytest-8.3.2") == "cpython-311"
    assert from_tag("cpython-313").magic == 3571
    assert from_tag("pypy39").magic == 336
    assert final_magics("cpython", "3.5") == {3350, 3351}


def _header(magic: int, *words: int) -> bytes:
    return magic.to_bytes(2, "little") + b"\r\n" + b"".join(struct.pack("<I", w) for w in words)


def test_headers_of_every_era() -> None:
    h27, why = parse_header(_header(62211, 7), 100)
    assert why == "" and h27 is not None and (h27.size, h27.mtime, h27.source_size) == (8, 7, None)
    h36, _ = parse_header(_header(3379, 7, 9), 100)
    assert h36 is not None and (h36.size, h36.mtime, h36.source_size, h36.flags) == (12, 7, 9, None)
    h312, _ = parse_header(_header(3531, 0, 7, 9), 100)
    assert h312 is not None and (h312.size, h312.flags, h312.mtime, h312.source_size) == (
        16,
        0,
        7,
        9,
    )
    hashed, _ = parse_header(_header(3531, 3) + b"12345678", 100)
    assert hashed is not None and (hashed.flags, hashed.source_hash) == (3, b"12345678")


@pytest.mark.parametrize(
    ("data", "size", "reason"),
    [
        (b"", 0, "shorter than a magic number"),
        (b"abcd", 4, "not bytecode"),
        (_header(3531, 0)[:10], 10, "truncated header"),
        (_header(3531, 4, 0, 0), 100, "invalid flags 0x4"),
        (_header(3531, 2, 0, 0), 100, "invalid flags 0x2"),
        (_header(3531, 0, 0, 0), 16, "no code after the header"),
    ],
)
def test_corrupt_headers(data: bytes, size: int, reason: str) -> None:
    header, why = parse_header(data, size)
    assert header is None
    assert reason in why


def test_unknown_magic_keeps_layout() -> None:
    header, why = parse_header(_header(3999, 0, 5, 6), 100)
    assert why == "unknown" and header is not None and header.mtime == 5
    # Flags that make no sense for the guessed layout do not turn "unknown magic" into
    # "invalid flags": the magic is what is wrong (a flipped byte in a 3.6 pyc looks like this).
    header, why = parse_header(_header(3999, 0x5A5A, 5, 6), 100)
    assert why == "unknown" and header is not None and header.flags is None


@given(st.binary(max_size=40), st.integers(min_value=0, max_value=1 << 40))
def test_header_parser_never_raises(data: bytes, size: int) -> None:
    header, why = parse_header(data[:16], size)
    assert (header is None) == (why not in ("", "unknown"))


@given(st.text(max_size=60))
def test_name_parser_never_raises(name: str) -> None:
    parsed = parse_cache_name(name)
    if parsed is not None:
        assert parsed.optimization in (0, 1, 2)
        assert (parsed.tag is None) == (parsed.problem is not None)


@given(st.binary(max_size=300))
def test_siphash_matches_the_running_interpreter(data: bytes) -> None:
    import _imp

    rounds = (1, 3) if sys.version_info >= (3, 11) else (2, 4)
    assert siphash(3571 | 0x0A0D0000, data, *rounds) == _imp.source_hash(3571 | 0x0A0D0000, data)


def test_siphash_reference_vectors() -> None:
    # PEP 552's test_imp vector (3.7-3.10) and the 3.11+ value, both observed on real interpreters.
    assert siphash(42, b"hi", 2, 4).hex() == "c6e75a0d033a7dab"
    assert siphash(42, b"hi", 1, 3).hex() == "fbd94705af249b7e"
    assert source_hash("cpython", "3.8", 3413, b"x") == siphash(3413 | 0x0A0D0000, b"x", 2, 4)
    assert source_hash("pypy", "3.9", 336, b"x") == siphash(336 | 0x0A0D0000, b"x", 2, 4)
    assert source_hash("cpython", "3.13", 3571, b"x") == siphash(3571 | 0x0A0D0000, b"x", 1, 3)


def test_magic_table_matches_the_list() -> None:
    with CSV.open(newline="", encoding="utf-8") as f:
        rows = {int(row["magic"]): row for row in csv.DictReader(f)}
    assert set(rows) == set(MAGIC_TABLE)
    for magic, row in rows.items():
        implementation, version, _, final = MAGIC_TABLE[magic]
        assert implementation == ("pypy" if "PyPy" in row["version"] else "cpython")
        assert row["version"].startswith(version)
        if implementation == "cpython":
            assert final == row["notes"].startswith("FINAL")


def test_magic_table_is_what_the_generator_writes() -> None:
    """The table regenerates from the repository alone, to the byte."""
    generator = runpy.run_path(str(TOOLS / "gen_magic_table.py"))
    table = Path(magic_table.__file__ or "")
    assert generator["render"]() == table.read_text(encoding="utf-8")


def test_running_interpreter_magic_is_known() -> None:
    magic = int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little")
    assert MAGIC_TABLE[magic][1] == f"{sys.version_info[0]}.{sys.version_info[1]}"
