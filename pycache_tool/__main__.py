"""``python -m pycache_tool`` and the ``pycache-tool`` script.

The command line takes a tenth of a second to load (typer); a Ctrl-C in that time ends the
run like a Ctrl-C later on: one line, exit 130, no traceback. SIGTERM is answered as Ctrl-C
is, with exit 143: whatever the tool started is stopped first.
"""

import signal
import sys
from types import FrameType
from typing import NoReturn, Optional

from pycache_tool.errors import Terminated


def _terminate(signum: int, frame: Optional[FrameType]) -> None:
    # As Python's own SIGINT handler: every signal raises, so that one raised where it is
    # swallowed (a __del__ that runs at that moment) is not the last word.
    raise Terminated


def run() -> None:
    # The tool never writes bytecode of its own, whatever the environment says. Only the command
    # line does this: importing the package as a library leaves the host process alone.
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGTERM, _terminate)
    try:
        from pycache_tool.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("pycache-tool: interrupted\n")
        sys.exit(130)
    except Terminated:
        sys.stderr.write("pycache-tool: terminated\n")
        sys.exit(143)
    code = main()
    if code in (130, 143):
        _end_children()
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """Exit without the interpreter's shutdown when it has nothing left to do but tear down
    typer's modules one by one, which takes longer (~8 ms) than auditing a small tree.

    Only with no exit handler registered (a worker pool registers one) and no other thread
    running, and once the output is flushed; otherwise, or if flushing fails, the ordinary
    exit, which reports a failed flush as it always has.
    """
    import atexit
    import os
    import threading

    if getattr(atexit, "_ncallbacks", lambda: 1)() == 0 and threading.active_count() == 1:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


def _end_children() -> None:
    """Stopped by a signal: end any child still running. Every part of the tool stops what it
    started, but a signal that lands while ``subprocess.Popen`` starts a child (after the fork,
    before Popen returns) leaves that child unknown to the code that asked for it. Linux lists
    a process's children in /proc; elsewhere there is nothing to read."""
    import contextlib
    import glob
    import os

    for listing in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        try:
            with open(listing, encoding="ascii") as f:
                pids = [int(pid) for pid in f.read().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


if __name__ == "__main__":
    run()
