"""From a project file to checked declarations, before the store is touched.

:func:`read_project` parses the file, checks its shape, refuses literal secrets,
resolves ``${VAR}`` references and validates every connection's settings against
its connector's model. Every problem found is collected and raised together as
:class:`ConfigFileError`, each naming the file, the line, and the place
(``connections.crm.settings.base_url``). Values never appear in messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from syncline.engine.config.issues import ConfigFileError, Issue
from syncline.engine.config.loader import Lines, Path, has_reference, interpolate, load_yaml
from syncline.engine.config.model import PipelineDecl, ProjectFile
from syncline.engine.settings_store import settings_errors, settings_to_json
from syncline.sdk import registry
from syncline.sdk.env import secret_field_names

__all__ = [
    "DeclaredConnection",
    "DeclaredEventSource",
    "Project",
    "read_project",
    "roles_of",
]

MIN_WRITE_KEY_LENGTH = 16


@dataclass(frozen=True, slots=True)
class DeclaredConnection:
    """A connection as the file declares it, settings validated."""

    name: str
    entry: registry.Registered
    roles: frozenset[str]
    settings: BaseModel | None
    settings_json: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeclaredEventSource:
    name: str
    write_key: str

    def __repr__(self) -> str:
        return f"DeclaredEventSource(name={self.name!r}, write_key=[REDACTED])"


@dataclass(frozen=True, slots=True)
class Project:
    """A read, checked project file. Pipelines are checked later, against the store."""

    file: str
    lines: Lines
    connections: dict[str, DeclaredConnection]
    event_sources: dict[str, DeclaredEventSource]
    pipelines: dict[str, PipelineDecl]

    def issue(self, path: Path, message: str) -> Issue:
        return self.lines.issue(path, message)


def roles_of(entry: registry.Registered) -> frozenset[str]:
    """Every role the connector can play."""
    roles = set()
    if entry.spec.as_source is not None:
        roles.add("source")
    if entry.spec.as_destination is not None:
        roles.add("destination")
    return frozenset(roles)


def read_project(path: str | FsPath, environ: Mapping[str, str]) -> Project:
    """Read and check the project file at ``path``; ``ConfigFileError`` lists every problem."""
    file = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(
            [Issue(file, "", f"cannot read the file: {exc.strerror or exc}")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigFileError([Issue(file, "", "the file is not UTF-8 text")]) from None
    data, lines = load_yaml(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError(
            [Issue(file, "", "a project file is a mapping with connections:, pipelines: …", 1)]
        )
    try:
        shape = ProjectFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(_shape_issues(exc, lines)) from None

    issues: list[Issue] = []
    connections: dict[str, DeclaredConnection] = {}
    for name, decl in shape.connections.items():
        declared = _connection(
            name, decl.connector, decl.roles, decl.settings, lines, environ, issues
        )
        if declared is not None:
            connections[name] = declared
    event_sources: dict[str, DeclaredEventSource] = {}
    for name, source in shape.event_sources.items():
        where: Path = ("event_sources", name, "write_key")
        if not has_reference(source.write_key):
            issues.append(lines.issue(where, _LITERAL_SECRET))
            continue
        key = _resolve(source.write_key, where, lines, environ, issues)
        if key is None:
            continue
        if len(key) < MIN_WRITE_KEY_LENGTH:
            issues.append(
                lines.issue(
                    where,
                    f"the write key must have at least {MIN_WRITE_KEY_LENGTH} characters; "
                    "set the variable to a longer random value",
                )
            )
            continue
        event_sources[name] = DeclaredEventSource(name, key)
    pipelines: dict[str, PipelineDecl] = {}
    for name, pipeline in shape.pipelines.items():
        resolved = pipeline
        for side in ("source", "destination"):
            decl = getattr(pipeline, side)
            if decl is None or not decl.options:
                continue
            options = _resolve(
                decl.options, ("pipelines", name, side, "options"), lines, environ, issues
            )
            if options is not None:
                resolved = resolved.model_copy(
                    update={side: decl.model_copy(update={"options": options})}
                )
        pipelines[name] = resolved
    if issues:
        raise ConfigFileError(issues)
    return Project(file, lines, connections, event_sources, pipelines)


_LITERAL_SECRET = (
    "is a secret and must not be written in the file: reference an environment "
    "variable instead, e.g. ${MY_SECRET}, and export it before running `syncline apply`"
)


def _connection(
    name: str,
    connector: str,
    roles: Sequence[str] | None,
    settings: dict[str, Any],
    lines: Lines,
    environ: Mapping[str, str],
    issues: list[Issue],
) -> DeclaredConnection | None:
    base: Path = ("connections", name)
    try:
        entry = registry.get(connector)
    except KeyError as exc:
        issues.append(lines.issue((*base, "connector"), str(exc.args[0])))
        return None
    can = roles_of(entry)
    chosen = frozenset(roles) if roles else can
    if not chosen:
        issues.append(lines.issue((*base, "roles"), "give at least one role: source, destination"))
        return None
    for role in sorted(chosen - can):
        issues.append(
            lines.issue(
                (*base, "roles"),
                f"connector {connector!r} cannot be a {role}; it can be: {', '.join(sorted(can))}",
            )
        )
    model = entry.spec.settings
    if model is None:
        if settings:
            issues.append(
                lines.issue(
                    (*base, "settings"), f"connector {connector!r} takes no settings; remove them"
                )
            )
        return DeclaredConnection(name, entry, chosen, None, {})
    before = len(issues)
    for secret in sorted(secret_field_names(model)):
        value = _at(settings, secret.split("."))
        if value is not _MISSING and value is not None and not has_reference(value):
            issues.append(lines.issue((*base, "settings", *secret.split(".")), _LITERAL_SECRET))
    if len(issues) > before:
        return None
    resolved = _resolve(settings, (*base, "settings"), lines, environ, issues)
    if resolved is None:
        return None
    try:
        validated = model.model_validate(resolved)
    except ValidationError as exc:
        for problem in settings_errors(exc):
            path: Path = (
                (*base, "settings", *problem.field.split("."))
                if problem.field
                else (
                    *base,
                    "settings",
                )
            )
            issues.append(lines.issue(path, f"invalid setting: {problem.message}"))
        return None
    return DeclaredConnection(name, entry, chosen, validated, settings_to_json(validated))


_MISSING = object()


def _at(values: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(values, dict) or part not in values:
            return _MISSING
        values = values[part]
    return values


def _resolve(
    value: Any, path: Path, lines: Lines, environ: Mapping[str, str], issues: list[Issue]
) -> Any:
    try:
        return interpolate(value, path, lines, environ)
    except ConfigFileError as exc:
        issues.extend(exc.issues)
        return None


def _shape_issues(error: ValidationError, lines: Lines) -> list[Issue]:
    issues: list[Issue] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(item["loc"])
        # Drop pydantic's union-branch and validator labels from the path.
        path: Path = tuple(
            part
            for part in loc
            if not (isinstance(part, str) and ("[" in part or part.startswith("function-")))
        )
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key; check its spelling (see docs/configuration.md)"
        elif item["type"] == "missing":
            message = "is required"
        issues.append(lines.issue(path, message))
    return _dedupe(issues)


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[Issue] = set()
    kept: list[Issue] = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            kept.append(issue)
    return kept
