"""Reading a project file: YAML with line numbers, and ``${VAR}`` references.

:func:`load_yaml` returns the document together with a :class:`Lines` index
from dotted paths to the line each key is on, so that every later check can
name the line of the value it rejects. Duplicate keys (which YAML parsers
silently collapse) are refused.

:func:`interpolate` replaces ``${NAME}`` with the value of the environment
variable ``NAME`` in every string of a value (``$$`` writes a literal ``$``).
A missing variable is an :class:`Issue` naming the variable, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from syncline.engine.config.issues import ConfigFileError, Issue

__all__ = ["Lines", "has_reference", "interpolate", "load_yaml"]

_REFERENCE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|\{([^}]*)\}?)")

Path = tuple[str | int, ...]


@dataclass(slots=True)
class Lines:
    """Dotted path → 1-based line of the key (or item) in the file."""

    file: str
    by_path: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, else of its nearest ancestor that has one."""
        while path:
            found = self.by_path.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return None

    def issue(self, path: Path, message: str) -> Issue:
        return Issue(self.file, dotted(path), message, self.line(path))


def dotted(path: Path) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


def load_yaml(text: str, file: str) -> tuple[Any, Lines]:
    """Parse ``text`` (one YAML document); ``ConfigFileError`` with the line on bad YAML."""
    lines = Lines(file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "cannot be parsed"
        column = f", column {mark.column + 1}" if mark is not None else ""
        raise ConfigFileError(
            [Issue(file, "", f"invalid YAML{column}: {what}; fix the syntax", line)]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError([Issue(file, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    issues: list[Issue] = []
    if node is not None:
        _index(node, (), lines, issues)
    if issues:
        raise ConfigFileError(issues)
    return data, lines


def _index(node: yaml.Node, path: Path, lines: Lines, issues: list[Issue]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                issues.append(
                    Issue(
                        lines.file,
                        dotted(child),
                        "is given twice; keep one",
                        key_node.start_mark.line + 1,
                    )
                )
            seen.add(key)
            lines.by_path.setdefault(child, key_node.start_mark.line + 1)
            _index(value_node, child, lines, issues)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            child = (*path, position)
            lines.by_path.setdefault(child, item.start_mark.line + 1)
            _index(item, child, lines, issues)


def has_reference(value: Any) -> bool:
    """True when ``value`` is a string holding at least one ``${NAME}`` reference."""
    return isinstance(value, str) and any(m.group(1) for m in _REFERENCE.finditer(value))


def interpolate(value: Any, path: Path, lines: Lines, environ: Mapping[str, str]) -> Any:
    """``value`` with every ``${NAME}`` in its strings replaced from ``environ``.

    Raises ``ConfigFileError`` listing every unset variable and malformed
    reference (``${}``, ``${1X}``, an unclosed ``${``), each with its place.
    """
    issues: list[Issue] = []
    result = _interpolate(value, path, lines, environ, issues)
    if issues:
        raise ConfigFileError(issues)
    return result


def _interpolate(
    value: Any, path: Path, lines: Lines, environ: Mapping[str, str], issues: list[Issue]
) -> Any:
    if isinstance(value, dict):
        return {
            key: _interpolate(item, (*path, str(key)), lines, environ, issues)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate(item, (*path, position), lines, environ, issues)
            for position, item in enumerate(value)
        ]
    if not isinstance(value, str) or "$" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "$$":
            return "$"
        name = match.group(1)
        if name is None:
            if text == "$" or not text.startswith("${"):
                return text
            issues.append(
                lines.issue(
                    path,
                    f"malformed reference {text!r}: write ${{NAME}} with a variable name of "
                    "letters, digits and underscores (or $$ for a literal $)",
                )
            )
            return ""
        found = environ.get(name)
        if found is None:
            issues.append(
                lines.issue(
                    path,
                    f"environment variable {name} is not set; export it before running "
                    "`syncline apply`",
                )
            )
            return ""
        return found

    return _REFERENCE.sub(replace, value)
