"""Shared output helpers: JSON for scripts, tables for people, errors on stderr."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def print_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def print_table(table: Any) -> None:
    """Print a rich table on stdout; off a terminal (a pipe, a file) 200 columns wide.

    rich falls back to 80 columns when stdout is not a terminal, which cuts
    every column of a wide table to a few letters ("PIPEL…") exactly where
    people pipe output into ``less`` or ``grep``.
    """
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else 200).print(table)
