"""The second process of a large scan: the same records in the same order, whatever happens to
it (a tree that changes between the two walks, a helper that dies), and no process left."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pycache_tool import Record, Scan
from pycache_tool.scanning import helper
from pycache_tool.scanning.walk import Listing
from tests.cleantrees import mixed_tree
from tests.conftest import cli_json

pytestmark = pytest.mark.skipif(not helper.available(), reason="no second core or no fork here")


@pytest.fixture
def big_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Forty copies of a tree with a cache of every kind, ghosts included; the helper starts
    after the first few entries."""
    monkeypatch.setattr(helper, "START_AFTER", 20)
    monkeypatch.setattr(helper, "idle_core", lambda: True)  # however busy the machine is
    root = tmp_path / "big"
    mixed_tree(root / "a00")
    for n in range(1, 40):
        shutil.copytree(root / "a00", root / f"a{n:02d}", symlinks=True)
    return root


class Received:
    """What the parent took from the helper: directories, and times it gave up on it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directories = 0
        self.fallbacks = 0
        self.pids: list[int] = []
        receive, start = helper.Helper._receive, helper.Helper._start

        def counting_receive(self_: helper.Helper, path: str) -> list[Record] | None:
            got = receive(self_, path)
            self.directories += got is not None
            self.fallbacks += got is None
            return got

        def recording_start(self_: helper.Helper, *args: Any) -> None:
            start(self_, *args)
            self.pids.append(self_._pid)

        monkeypatch.setattr(helper.Helper, "_receive", counting_receive)
        monkeypatch.setattr(helper.Helper, "_start", recording_start)

    def reaped(self) -> bool:
        for pid in self.pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue  # reaped already, as it should be
            return False
        return True


def records(root: Path, **options: Any) -> list[Record]:
    return list(Scan([root], **options))


def test_same_records_in_the_same_order(big_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = records(big_tree)
    received = Received(monkeypatch)
    assert records(big_tree, helper=True) == alone
    assert received.directories > 10 and received.fallbacks == 0
    assert received.reaped()


def test_audit_output_is_the_same(
    big_tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    received = Received(monkeypatch)
    code, with_helper = cli_json(capsys, "audit", "--format", "json", str(big_tree))
    assert received.directories > 10
    monkeypatch.setattr(helper, "available", lambda: False)
    assert cli_json(capsys, "audit", "--format", "json", str(big_tree)) == (code, with_helper)


def test_compile_plans_the_same(
    big_tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    received = Received(monkeypatch)
    planned = cli_json(capsys, "compile", "--dry-run", "--format", "json", str(big_tree))
    assert received.directories > 10
    monkeypatch.setattr(helper, "available", lambda: False)
    assert cli_json(capsys, "compile", "--dry-run", "--format", "json", str(big_tree)) == planned


def test_a_tree_that_differs_between_the_walks(
    big_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child sees other directories than the parent (here: it drops one): the parent
    notices at the first message for another path and classifies the rest itself."""
    alone = records(big_tree)
    parent = os.getpid()
    child_walk = helper._child

    def diverging(write_end: int, rest: Iterator[Any], *args: Any) -> None:
        assert os.getpid() != parent
        next(event for event in rest if isinstance(event, Listing) and event.pycache)
        child_walk(write_end, rest, *args)

    monkeypatch.setattr(helper, "_child", diverging)
    received = Received(monkeypatch)
    assert records(big_tree, helper=True) == alone
    assert received.fallbacks == 1 and received.reaped()


def test_a_helper_that_dies(big_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = records(big_tree)

    def dying(*args: Any) -> None:
        raise RuntimeError("the helper fails")

    monkeypatch.setattr(helper, "_child", dying)
    received = Received(monkeypatch)
    assert records(big_tree, helper=True) == alone
    assert received.directories == 0 and received.fallbacks == 1 and received.reaped()


def test_a_scan_left_early_ends_its_helper(big_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received = Received(monkeypatch)
    scan = iter(Scan([big_tree], helper=True))
    for _ in range(200):
        next(scan)
    assert received.pids
    scan.close()  # type: ignore[attr-defined]
    assert received.reaped()


def test_coverage_and_needs_are_the_same(big_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What audit --require-fresh counts and compile plans, from the helper's directories too."""
    options: dict[str, Any] = {"require_fresh": True, "collect_needs": "all"}
    alone = Scan([big_tree], **options)
    alone_records = list(alone)
    received = Received(monkeypatch)
    shared = Scan([big_tree], helper=True, **options)
    assert list(shared) == alone_records
    assert received.directories > 10
    assert shared.coverage == alone.coverage and shared.needs == alone.needs


def test_a_small_tree_stays_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received = Received(monkeypatch)
    mixed_tree(tmp_path / "small")
    records(tmp_path / "small", helper=True)
    assert received.pids == []


def test_no_helper_when_every_core_is_busy(big_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received = Received(monkeypatch)
    alone = records(big_tree)
    monkeypatch.setattr(helper, "idle_core", lambda: False)
    assert records(big_tree, helper=True) == alone
    assert received.pids == []
