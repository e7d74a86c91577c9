"""The typer app: the commands, one module each, and the console entry point.

Only the CLI prints and exits. A run registers only the command it names (when the first
argument is one): building every command's options costs more than parsing one. The
commands import what they need when they run, so that ``pycache-tool audit`` never loads
compile's pool and ``--help`` loads neither.
"""

import importlib
import io
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Optional

import typer

from pycache_tool import __version__
from pycache_tool.cli.options import EXIT_CODES
from pycache_tool.errors import ExitCode, PycacheToolError, Terminated

# name -> (its module under pycache_tool.cli, its function, or its typer group of commands),
# in help order. Each module's EXIT_CODES are its help's epilog.
COMMANDS = {
    "audit": ("audit", "audit"),
    "clean": ("clean", "clean"),
    "compile": ("compile", "compile_command"),
    "doctor": ("doctor", "doctor"),
    "importtime": ("importtime", "importtime"),
    "cache": ("cache", "app"),
}


def make_app(names: Sequence[str] = tuple(COMMANDS)) -> typer.Typer:
    """The app with the commands ``names`` (default: all of them)."""
    app = typer.Typer(
        name="pycache-tool",
        help="Keep Python bytecode caches honest: see which .pyc files an interpreter would load, and why.\n\n"
        + EXIT_CODES,
        add_completion=True,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in names:
        module_name, function = COMMANDS[name]
        module = importlib.import_module(f"pycache_tool.cli.{module_name}")
        command = getattr(module, function)
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=name)
        else:
            app.command(name, epilog=module.EXIT_CODES)(command)
    app.callback()(_main)
    return app


def _commands_for(argv: Sequence[str]) -> Sequence[str]:
    """The one command a run names, or all when it names none (help, --version, a typo)
    or when the shell asks for completions, which list every command."""
    if argv and argv[0] in COMMANDS and "_PYCACHE_TOOL_COMPLETE" not in os.environ:
        return [argv[0]]
    return tuple(COMMANDS)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pycache-tool {__version__}")
        raise typer.Exit()


def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Keep Python bytecode caches honest."""


def main(argv: Optional[list[str]] = None) -> int:
    """Console entry point: one-line errors with documented exit codes, never a traceback for them."""
    sys.dont_write_bytecode = True
    # Any stdout encoding: a name or message it cannot show is escaped, as compileall does.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    args = sys.argv[1:] if argv is None else argv
    if not args:
        args = ["--help"]  # bare `pycache-tool` asks for the help: it is no usage error
    try:
        app = make_app(_commands_for(args))
        result = app(args=args, prog_name="pycache-tool", standalone_mode=False)
    except PycacheToolError as exc:
        print(f"pycache-tool: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("pycache-tool: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Terminated:  # SIGTERM, which only the script entry point turns into this
        print("pycache-tool: terminated", file=sys.stderr)
        return int(ExitCode.TERMINATED)
    except BrokenPipeError:
        return _reader_gone()
    except SystemExit as exc:
        # typer's own handler turns a closed pipe into exit 1, which would read as findings.
        if isinstance(exc.__context__, BrokenPipeError):
            return _reader_gone()
        raise
    except Exception as exc:
        # typer bundles its own click; its usage errors carry exit_code and format_message().
        if type(exc).__name__ == "Abort":
            print("pycache-tool: interrupted", file=sys.stderr)
            return int(ExitCode.INTERRUPTED)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            print(f"pycache-tool: error: {exc.format_message()}", file=sys.stderr)
            return int(exc.exit_code)
        raise
    if result == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into a silent Exit(130)
        print("pycache-tool: interrupted", file=sys.stderr)
    return int(result or 0)


def _reader_gone() -> int:
    """The reader went away (``| head``): end quietly, as if the rest had been read."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return int(ExitCode.OK)
