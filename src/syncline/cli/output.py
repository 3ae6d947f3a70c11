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
