"""Planning and applying a project file: what changes, then the writes.

:func:`plan_project` reads the store and compares it with the checked project;
:func:`apply_plan` writes the plan's changes. Together (:func:`apply_project`)
they make ``syncline apply`` idempotent: applying the same file twice reports
every item ``unchanged`` and writes nothing.

Every check runs before the first write, so a file with any problem changes
nothing. The writes themselves are several short transactions (connections,
then event sources, then pipelines, then pruning); a store failure in between
leaves the items written so far, and applying the file again completes the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from syncline.engine.config.issues import ConfigFileError, Issue
from syncline.engine.config.pipelines import DesiredPipeline, SchemaCheck, check_pipelines
from syncline.engine.config.project import DeclaredConnection, Project, read_project
from syncline.engine.settings_store import settings_to_json

if TYPE_CHECKING:
    from syncline.store import Store

__all__ = ["Change", "Plan", "apply_plan", "apply_project", "plan_project"]

Action = Literal["create", "update", "unchanged", "remove", "not in file"]
ItemKind = Literal["connection", "event source", "pipeline"]


@dataclass(frozen=True, slots=True)
class Change:
    """One item of the plan: what it is, what happens, and which fields differ (names only)."""

    kind: ItemKind
    name: str
    action: Action
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.kind} {self.name!r}: {self.action}{detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "fields": list(self.fields),
        }


@dataclass(slots=True)
class Plan:
    """The changes a project file makes, and the warnings found while checking it."""

    project: Project
    pipelines: dict[str, DesiredPipeline]
    changes: list[Change] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    prune: bool = False
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Settings to write per existing connection (declared, plus obtained OAuth tokens)."""

    @property
    def writes(self) -> list[Change]:
        """The changes that write: create, update, and remove (only with prune)."""
        return [c for c in self.changes if c.action in ("create", "update", "remove")]

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.project.file,
            "changes": [c.to_json() for c in self.changes],
            "warnings": [w.to_json() for w in self.warnings],
        }


async def plan_project(
    store: Store,
    path: str | Path,
    environ: Mapping[str, str],
    *,
    schemas: SchemaCheck = SchemaCheck.AUTO,
    prune: bool = False,
) -> Plan:
    """Read and check the file at ``path`` and compare it with the store. Writes nothing.

    ``ConfigFileError`` lists every problem of the file; ``syncline.store``
    errors pass through.
    """
    project = read_project(path, environ)
    pipelines, warnings = await check_pipelines(project, store, schemas)
    plan = Plan(project, pipelines, warnings=warnings, prune=prune)
    await _plan_connections(store, plan)
    await _plan_event_sources(store, plan)
    await _plan_pipelines(store, plan)
    return plan


async def _plan_connections(store: Store, plan: Plan) -> None:
    from syncline.store import NotFound

    issues: list[Issue] = []
    for name, declared in plan.project.connections.items():
        try:
            stored = await store.connections.get(name)
        except NotFound:
            plan.changes.append(Change("connection", name, "create"))
            continue
        if stored.connector != declared.entry.code:
            issues.append(
                plan.project.issue(
                    ("connections", name, "connector"),
                    f"connection {name!r} already exists with connector {stored.connector!r}; "
                    "remove it first (`syncline connections remove`) or choose another name",
                )
            )
            continue
        changed: list[str] = []
        if frozenset(stored.roles) != declared.roles:
            changed.append("roles")
        current = (await store.connections.load_settings(stored.id)).values
        current = _normalized(declared, current)
        desired = _keep_obtained(declared, current)
        plan.settings[name] = desired
        for key in sorted(set(current) | set(desired)):
            if current.get(key, _ABSENT) != desired.get(key, _ABSENT):
                changed.append(f"settings.{key}")
        plan.changes.append(
            Change("connection", name, "update" if changed else "unchanged", tuple(changed))
        )
    if issues:
        raise ConfigFileError(issues)
    declared_names = set(plan.project.connections)
    for stored in await store.connections.list():
        if stored.name not in declared_names:
            plan.changes.append(Change("connection", stored.name, "not in file"))


_ABSENT = object()

# Filled by the authorization flow and by token refreshes, never by the file:
# an apply that leaves them out must not sign the connection out.
OBTAINED_OAUTH_FIELDS = ("access_token", "refresh_token", "expires_at", "obtained_at", "scope")


def _keep_obtained(declared: DeclaredConnection, current: dict[str, Any]) -> dict[str, Any]:
    """The declared settings, with the stored OAuth tokens the file does not set."""
    desired = dict(declared.settings_json)
    if declared.entry.spec.oauth is None or declared.settings is None:
        return desired
    from syncline.http.oauth import OAUTH_FIELD

    file_oauth = getattr(declared.settings, OAUTH_FIELD, None)
    stored_oauth = current.get(OAUTH_FIELD)
    if not isinstance(file_oauth, BaseModel) or not isinstance(stored_oauth, dict):
        return desired
    merged = dict(desired.get(OAUTH_FIELD) or {})
    for key in OBTAINED_OAUTH_FIELDS:
        if key not in file_oauth.model_fields_set and key in stored_oauth:
            merged[key] = stored_oauth[key]
    desired[OAUTH_FIELD] = merged
    return desired


def _normalized(declared: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Stored settings through the model, so equal settings compare equal."""
    model = declared.entry.spec.settings
    if model is None:
        return values
    try:
        return settings_to_json(model.model_validate(values))
    except ValueError:
        return values


async def _plan_event_sources(store: Store, plan: Plan) -> None:
    from syncline.store import NotFound

    for name, declared in plan.project.event_sources.items():
        try:
            await store.event_sources.get(name)
        except NotFound:
            plan.changes.append(Change("event source", name, "create"))
            continue
        owner = await store.event_sources.by_write_key(declared.write_key)
        if owner is not None and owner.name == name:
            plan.changes.append(Change("event source", name, "unchanged"))
        else:
            plan.changes.append(Change("event source", name, "update", ("write_key",)))
    declared_names = set(plan.project.event_sources)
    for stored in await store.event_sources.list():
        if stored.name not in declared_names:
            plan.changes.append(Change("event source", stored.name, "not in file"))


async def _plan_pipelines(store: Store, plan: Plan) -> None:
    from syncline.store import NotFound

    ids = {c.id: c.name for c in await store.connections.list()}
    issues: list[Issue] = []
    for name, desired in plan.pipelines.items():
        try:
            stored = await store.pipelines.get(name)
        except NotFound:
            plan.changes.append(Change("pipeline", name, "create"))
            continue
        if stored.kind != desired.kind:
            issues.append(
                plan.project.issue(
                    ("pipelines", name, "kind"),
                    f"pipeline {name!r} already exists as an {stored.kind} pipeline; a "
                    "pipeline's kind cannot change: remove it with --prune after renaming, or "
                    "choose another name",
                )
            )
            continue
        changed: list[str] = []
        if stored.target != desired.target:
            changed.append("target")
        if ids.get(stored.source_connection_id or -1) != desired.source:
            changed.append("source")
        if ids.get(stored.destination_connection_id or -1) != desired.destination:
            changed.append("destination")
        if stored.enabled != desired.enabled:
            changed.append("enabled")
        new_config = desired.config.to_json()
        for key in sorted(set(stored.config) | set(new_config)):
            if stored.config.get(key, _ABSENT) != new_config.get(key, _ABSENT):
                changed.append(key)
        plan.changes.append(
            Change("pipeline", name, "update" if changed else "unchanged", tuple(changed))
        )
    if issues:
        raise ConfigFileError(issues)
    for stored in await store.pipelines.list():
        if stored.name not in plan.pipelines:
            action: Action = "remove" if plan.prune else "not in file"
            plan.changes.append(Change("pipeline", stored.name, action))


async def apply_plan(store: Store, plan: Plan) -> None:
    """Write the plan's changes: connections, event sources, pipelines, then pruning."""
    project = plan.project
    by_key = {(c.kind, c.name): c for c in plan.changes}
    for name, declared in project.connections.items():
        if by_key[("connection", name)].action == "unchanged":
            continue
        oauth_account = None
        if by_key[("connection", name)].action == "update":
            oauth_account = (await store.connections.get(name)).oauth_account
        await store.connections.save(
            name,
            connector=declared.entry.code,
            roles=sorted(declared.roles),  # type: ignore[arg-type]
            settings=plan.settings.get(name, declared.settings_json),
            oauth_account=oauth_account,
        )
    for name, source in project.event_sources.items():
        action = by_key[("event source", name)].action
        if action == "unchanged":
            continue
        if action == "update":
            # Same source, new key: its undelivered events and its pipelines stay.
            await store.event_sources.set_write_key(name, source.write_key)
        else:
            await store.event_sources.create(name, write_key=source.write_key)
    ids = {c.name: c.id for c in await store.connections.list()}
    for name, desired in plan.pipelines.items():
        if by_key[("pipeline", name)].action == "unchanged":
            continue
        await store.pipelines.save(
            name,
            kind=desired.kind,  # type: ignore[arg-type]
            target=desired.target,
            source_connection_id=ids[desired.source] if desired.source else None,
            destination_connection_id=ids[desired.destination] if desired.destination else None,
            config=desired.config.to_json(),
            enabled=desired.enabled,
        )
    for change in plan.changes:
        if change.kind == "pipeline" and change.action == "remove":
            await store.pipelines.remove(change.name)


async def apply_project(
    store: Store,
    path: str | Path,
    environ: Mapping[str, str],
    *,
    schemas: SchemaCheck = SchemaCheck.AUTO,
    prune: bool = False,
    dry_run: bool = False,
) -> Plan:
    """Plan the file at ``path`` and, unless ``dry_run``, apply it. Returns the plan."""
    plan = await plan_project(store, path, environ, schemas=schemas, prune=prune)
    if not dry_run:
        await apply_plan(store, plan)
    return plan
