"""``syncline new connector NAME``: generate a connector package from the templates here.

The templates (``connector/**.tmpl``, package data) use ``string.Template``
placeholders: ``${code}`` (the kebab-case connector code), ``${label}``,
``${package}`` (``syncline_<snake>``), ``${cls}`` (CamelCase class name) and
``${dist}`` (``syncline-<code>``). ``__package__`` and ``__code__`` in a path are
replaced by the package name and the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

__all__ = ["ConnectorName", "ScaffoldError", "scaffold_connector"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


class ScaffoldError(ValueError):
    """A name or a destination the scaffold cannot use; the message says what to do."""


@dataclass(frozen=True, slots=True)
class ConnectorName:
    """The names derived from a kebab-case connector name (``acme-crm``)."""

    code: str

    @classmethod
    def parse(cls, name: str) -> ConnectorName:
        if not _NAME.match(name):
            raise ScaffoldError(
                f"connector name {name!r} is not kebab-case: use lower-case letters and "
                "digits, words separated by single hyphens, starting with a letter "
                "(e.g. acme-crm)"
            )
        return cls(name)

    @property
    def package(self) -> str:
        return "syncline_" + self.code.replace("-", "_")

    @property
    def cls(self) -> str:
        return "".join(part.capitalize() for part in self.code.split("-"))

    @property
    def label(self) -> str:
        return " ".join(part.capitalize() for part in self.code.split("-"))

    @property
    def dist(self) -> str:
        return f"syncline-{self.code}"


def scaffold_connector(name: str, directory: Path) -> tuple[Path, list[Path]]:
    """Write a connector project for ``name`` into ``directory/syncline-<name>``.

    Returns the project directory and the files written. Raises ScaffoldError
    for a bad name or when the project directory already exists (nothing is
    overwritten).
    """
    names = ConnectorName.parse(name)
    root = directory / names.dist
    if root.exists():
        raise ScaffoldError(
            f"{root} already exists: choose another --dir, or remove it to generate again"
        )
    values = {
        "code": names.code,
        "label": names.label,
        "package": names.package,
        "cls": names.cls,
        "dist": names.dist,
    }
    written: list[Path] = []
    templates = resources.files(__name__) / "connector"
    for relative, template in _walk(templates, ()):
        parts = [
            p.replace("__package__", names.package).replace("__code__", names.code)
            for p in relative
        ]
        parts[-1] = parts[-1].removesuffix(".tmpl")
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(template.read_text("utf-8")).substitute(values), "utf-8")
        written.append(target)
    return root, written


def _walk(node: Traversable, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], Traversable]]:
    found: list[tuple[tuple[str, ...], Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            if child.name != "__pycache__":
                found += _walk(child, (*prefix, child.name))
        elif child.name.endswith(".tmpl"):
            found.append(((*prefix, child.name), child))
    return found
