"""Run one command; report its wall time and peak resident memory: ``peak.py FD ARGV...``.

The harness runs every measured command through this small process rather than directly:
on Linux a child's ``ru_maxrss`` starts at the resident size of the process that forked it
(exec records the old address space's peak), and the benchmark process is large. Forked
from here, a command's figure is its own once it exceeds ~5 MB. The time is taken here too,
from fork to reaping, so this script's own start-up is not part of it.

Writes ``SECONDS PEAK_BYTES`` on file descriptor FD and exits with the command's status.
Only ``os``, ``sys`` and ``time``: run with ``python -I -S``, it stays small.
"""

import os
import sys
import time

_RSS_UNIT = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: peak.py FD ARGV...", file=sys.stderr)
        return 2
    report, command = int(argv[0]), argv[1:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(report)
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"peak.py: {command[0]}: {exc}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.write(report, f"{elapsed!r} {usage.ru_maxrss * _RSS_UNIT}\n".encode())
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed by a signal: as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
