"""The command line: one module per command, argument parsing in main.py, exit codes in exits.py."""

from jobs.cli.main import cli, main

__all__ = ["cli", "main"]
