"""The tool's own errors and exit codes."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1  # --check / --require-fresh found something
    USAGE = 2  # bad option, missing path, unusable interpreter or config
    INCOMPLETE = 3  # some files or directories could not be read
    INTERRUPTED = 130  # SIGINT (Ctrl-C)
    TERMINATED = 143  # SIGTERM: 128 + 15, as a shell reports a process the signal ended


class PycacheToolError(Exception):
    """A problem the user can fix; the CLI prints it on one line."""

    exit_code = ExitCode.USAGE


class UsageError(PycacheToolError):
    pass


class Terminated(BaseException):
    """SIGTERM arrived. A BaseException, as KeyboardInterrupt is for SIGINT: it unwinds every
    ``finally`` (workers are stopped, children killed) and no ``except Exception`` takes it."""


def describe(exc: OSError) -> str:
    """An OS error as a report shows it: "Permission denied", without errno and path."""
    return exc.strerror or str(exc)
