"""The command line: the typer app and one module per command. Only this package prints and exits."""

from pycache_tool.cli.app import main

__all__ = ["main"]
