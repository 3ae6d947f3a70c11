"""Problems found in a project file, each tied to its place (file, line, dotted path)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ConfigFileError", "Issue"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where it is and what to do.

    ``path`` is the dotted place in the file (``pipelines.crm-import.mapping.email``);
    ``line`` the 1-based line of that place when known. ``message`` never holds a
    setting's or a variable's value.
    """

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class ConfigFileError(Exception):
    """The project file cannot be applied; ``issues`` lists every problem found.

    Raised before anything is written to the store.
    """

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))
