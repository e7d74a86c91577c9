"""``python -m pycache_tool`` and the ``pycache-tool`` script.

The command line takes a tenth of a second to load (typer); a Ctrl-C in that time ends the
run like a Ctrl-C later on: one line, exit 130, no traceback.
"""

import sys


def run() -> None:
    # The tool never writes bytecode of its own, whatever the environment says. Only the command
    # line does this: importing the package as a library leaves the host process alone.
    sys.dont_write_bytecode = True
    try:
        from pycache_tool.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("pycache-tool: interrupted\n")
        sys.exit(130)
    sys.exit(main())


if __name__ == "__main__":
    run()
