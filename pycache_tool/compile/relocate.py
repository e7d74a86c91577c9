"""A compiled module's bytes as a template, and the template placed at a path.

Runs inside the *target* interpreter, beside ``worker.py``: standard library only, valid
Python 3.8. It is what makes the compile cache exact. Every pyc body that compile writes, from
a fresh compile or from the cache, comes out of ``place(template(code, ...), filename)``, so a
hit writes the same bytes as a cold compile at that place, whichever path filled the entry.

``marshal.dumps`` alone would not do: its output depends on the writing process as well as on
the code object. It flags an object for back-references when its reference count is above one
(other modules holding an interned name count too), it writes a string as interned or not as
the process happens to have interned it (PyPy asks its weak table of interned strings), and
before 3.11 it writes a frozenset in the order of that set's hash table, which depends on the
order of insertion. So the template is the code object normalized first, then marshalled:

- every constant string becomes one fresh object per value (CPython then interns the ones that
  look like identifiers, as it always does); the empty and one-character strings, singletons
  whose interned state is the process's, are interned; PyPy interns every string;
- every string in it is held by a second reference while it is marshalled (PyPy: held as
  values of a dict, which its list strategies would not keep), so each is flagged alike;
- frozenset constants are rebuilt from their items in the order of their marshal bytes;
- ``co_filename`` is a sentinel, a string no source contains (the caller derives it from the
  source's hash), that occurs once in the result; ``place`` swaps it for the real file name.
  Marshal data has no offsets, only back-reference numbers, so the swap changes nothing else.

Whether all of this holds is measured, not assumed: the tests compile whole standard
libraries in processes in different states (other modules imported, other files compiled
first, another order) and compare the bytes.
"""

from __future__ import annotations

import marshal
import struct
import sys
import types
from typing import Any, NamedTuple

_PYPY = sys.implementation.name == "pypy"
_QUALNAME = hasattr(types.CodeType, "co_qualname")  # 3.11+
_FLAG_REF = 0x80
# Marshal's string type codes: short ASCII, ASCII, other (UTF-8); plain and interned.
_SHORT, _SHORT_INTERNED = ord("z"), ord("Z")
_ASCII, _ASCII_INTERNED = ord("a"), ord("A")
_UNICODE, _UNICODE_INTERNED = ord("u"), ord("t")
_INTERNED = {_SHORT_INTERNED, _ASCII_INTERNED, _UNICODE_INTERNED}
_STRING_CODES = {_SHORT, _SHORT_INTERNED, _ASCII, _ASCII_INTERNED, _UNICODE, _UNICODE_INTERNED}


class Template(NamedTuple):
    """Marshal data of a module whose file name is the string object at ``offset``."""

    body: bytes
    offset: int
    length: int  # bytes of that string object: type code, size, characters


def normalized(code: types.CodeType, filename: str) -> bytes:
    """Marshal data of ``code`` as recorded at ``filename``, the same in any process."""
    strings: dict[str, str] = {}  # each value, the one object that stands for it
    keep: list[str] = []  # CPython: a second reference to every string
    get = strings.get
    intern = sys.intern

    def string(value: str) -> str:
        if _PYPY or len(value) < 2:
            out = intern(value)
        else:
            out = (value + ".")[:-1]  # a new object, interned by nothing yet
        strings[value] = out
        return out

    def const(value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return get(value) or string(value)
        if kind is types.CodeType:
            return rebuild(value)
        if kind is tuple:
            return tuple([const(item) for item in value])
        if kind is frozenset:
            return frozenset(sorted([const(item) for item in value], key=marshal.dumps))
        return value

    def rebuild(code: types.CodeType) -> types.CodeType:
        fields: dict[str, Any] = {
            "co_filename": filename,
            "co_consts": tuple([const(value) for value in code.co_consts]),
            "co_name": intern(code.co_name),
        }
        if _QUALNAME:
            fields["co_qualname"] = intern(getattr(code, "co_qualname"))  # noqa: B009
        new = code.replace(**fields)
        names = (new.co_names, new.co_varnames, new.co_freevars, new.co_cellvars)
        if _PYPY:
            for group in names:
                for item in group:
                    get(item) or string(item)
            get(new.co_name) or string(new.co_name)
        else:
            for group in names:
                keep.extend(group)
            keep.append(new.co_name)
            if _QUALNAME:
                keep.append(getattr(new, "co_qualname"))  # noqa: B009
        return new

    filename = string(filename)
    data = marshal.dumps(rebuild(code))
    # Used after the dump, so that what they hold lives (and stays interned) until then.
    keep.clear()
    strings.clear()
    return data


def template(code: types.CodeType, sentinel: str) -> Template | None:
    """``code`` with ``sentinel`` as its file name, and where that name is written.

    None when the sentinel is not written exactly once as a string of its own (it cannot be,
    unless the source holds it): such a module is compiled for its place every time.
    """
    body = normalized(code, sentinel)
    encoded = _string_object(sentinel, 0)[1:]
    start = body.find(encoded)
    if start < 1 or body.find(encoded, start + 1) != -1:
        return None
    offset = start - 1
    if body[offset] & ~_FLAG_REF not in _STRING_CODES:
        return None
    return Template(body, offset, len(encoded) + 1)


def place(template: tuple[bytes, int, int], filename: str) -> bytes:
    """The module's marshal data as recorded at ``filename``; ValueError for a template whose
    placeholder is not a string object."""
    body, offset, length = template
    if not (0 <= offset < offset + length <= len(body)) or (
        body[offset] & ~_FLAG_REF not in _STRING_CODES
    ):
        raise ValueError("the template's placeholder is not a string")
    return body[:offset] + _string_object(filename, body[offset]) + body[offset + length :]


def _string_object(text: str, code: int) -> bytes:
    """``text`` as marshal writes a string, flagged and interned as ``code`` says."""
    flag = code & _FLAG_REF
    interned = code & ~_FLAG_REF in _INTERNED
    data = text.encode("utf-8", "surrogatepass")
    if len(data) == len(text):  # ASCII
        if len(data) < 256:
            kind = _SHORT_INTERNED if interned else _SHORT
            return bytes((kind | flag, len(data))) + data
        kind = _ASCII_INTERNED if interned else _ASCII
    else:
        kind = _UNICODE_INTERNED if interned else _UNICODE
    return bytes((kind | flag,)) + struct.pack("<I", len(data)) + data
