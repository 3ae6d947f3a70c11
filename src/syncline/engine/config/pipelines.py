"""Checking a project's pipelines against the connectors and the store, before any write.

Each pipeline is checked for: its connections (declared in the file or already
stored), their roles, the target (declared by both connectors' specs), the
fields its kind uses, each side's pipeline options (against the connector's
``pipeline_options`` model), and its filter and mapping.

Filters and mappings are always checked for syntax, function names and arity.
Property names are checked against the connectors' schemas as chosen by
:class:`SchemaCheck`:

* ``AUTO`` (default) — schemas of connectors that make no HTTP requests (no
  endpoint groups: databases and files) are read; app connectors are skipped.
  A schema that cannot be read (a table a run will create) is a warning.
* ``ALWAYS`` (``--check-schemas``) — every schema is read, app APIs included,
  with the settings being applied; a schema that cannot be read is an error.
* ``NEVER`` (``--no-check-schemas``) — no schema is read.

Under the same rule, an event pipeline's ``event_type`` is checked against
the destination's ``event_types()``. Event pipelines read open JSON messages,
so their filters and mappings are checked for syntax and functions only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from syncline.engine.config.issues import ConfigFileError, Issue
from syncline.engine.config.loader import Path
from syncline.engine.config.model import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_OVERLAP_SECONDS,
    PipelineConfig,
    PipelineDecl,
)
from syncline.engine.config.project import DeclaredConnection, Project
from syncline.engine.settings_store import MemorySettingsStore, settings_errors
from syncline.sdk import registry
from syncline.sdk.env import Env
from syncline.sdk.spec import ANY_TARGET, EVENTS
from syncline.types import Object, Role

if TYPE_CHECKING:
    from syncline.store import Store

__all__ = ["DesiredPipeline", "SchemaCheck", "check_pipelines"]

T = TypeVar("T")

_ONLY = {
    "overlap": ("import", "export"),
    "purge": ("import",),
    "mode": ("export",),
    "matching": ("export",),
    "event_type": ("events",),
    "event_sources": ("events",),
    "source": ("import", "export"),
    "schedule": ("import", "export"),
    "batch_size": ("import", "export"),
}


class SchemaCheck(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class End:
    """A connection a pipeline uses: declared in the file, or already stored."""

    name: str
    entry: registry.Registered
    roles: frozenset[str]
    declared: DeclaredConnection | None


@dataclass(frozen=True, slots=True)
class DesiredPipeline:
    """A checked pipeline, ready to be written."""

    name: str
    kind: str
    target: str
    source: str | None
    destination: str | None
    config: PipelineConfig
    enabled: bool


async def check_pipelines(
    project: Project, store: Store, schemas: SchemaCheck = SchemaCheck.AUTO
) -> tuple[dict[str, DesiredPipeline], list[Issue]]:
    """Check every pipeline of ``project``; return them and the warnings.

    Raises ``ConfigFileError`` listing every problem; reads the store and,
    by ``schemas``, the connectors' schemas, but writes nothing.
    """
    issues: list[Issue] = []
    warnings: list[Issue] = []
    desired: dict[str, DesiredPipeline] = {}
    ends: dict[str, End | None] = {}
    for name, decl in project.pipelines.items():
        checker = _PipelineCheck(project, store, schemas, name, decl, ends, issues, warnings)
        pipeline = await checker.run()
        if pipeline is not None:
            desired[name] = pipeline
    if issues:
        raise ConfigFileError(issues)
    return desired, warnings


class _PipelineCheck:
    def __init__(
        self,
        project: Project,
        store: Store,
        schemas: SchemaCheck,
        name: str,
        decl: PipelineDecl,
        ends: dict[str, End | None],
        issues: list[Issue],
        warnings: list[Issue],
    ) -> None:
        self.project = project
        self.store = store
        self.schemas = schemas
        self.name = name
        self.decl = decl
        self.ends = ends
        self.issues = issues
        self.warnings = warnings
        self.base: Path = ("pipelines", name)

    def problem(self, path: Path, message: str) -> None:
        self.issues.append(self.project.issue((*self.base, *path), message))

    async def run(self) -> DesiredPipeline | None:
        decl = self.decl
        before = len(self.issues)
        for field, kinds in _ONLY.items():
            if getattr(decl, field) is not None and decl.kind not in kinds:
                self.problem((field,), f"is not used by {decl.kind} pipelines; remove it")
        target = decl.target or (EVENTS if decl.kind == "events" else None)
        if target is None:
            self.problem(("target",), f"is required for {decl.kind} pipelines (e.g. users)")
            return None
        if decl.kind == "events" and target != EVENTS:
            self.problem(("target",), "an events pipeline has target 'events'; remove target")
        if decl.kind != "events" and target == EVENTS:
            self.problem(("target",), "target 'events' is for kind: events pipelines")
        if decl.kind in ("import", "export") and decl.source is None:
            self.problem(("source",), f"is required for {decl.kind} pipelines")
        if decl.destination is None:
            self.problem(("destination",), f"is required for {decl.kind} pipelines")
        if decl.kind == "export" and decl.mode != "create" and not decl.matching:
            self.problem(
                ("matching",),
                "is required unless mode is create: name the destination property that "
                "identifies a record (e.g. email)",
            )
        if len(self.issues) > before:
            return None

        source = await self.end("source", "source", target) if decl.source else None
        destination = await self.end("destination", "destination", target)
        source_options = self.options("source", source)
        destination_options = self.options("destination", destination)
        await self.event_sources()

        # Schemas are read only for a pipeline whose ends are sound; expressions
        # are checked for syntax and functions in any case, to report everything.
        input_paths: Any = None
        output_paths: Any = None
        ends_ok = len(self.issues) == before
        if ends_ok and decl.kind != "events" and source is not None and destination is not None:
            input_paths = await self.paths(source, target, Role.SOURCE, source_options, "source")
            output_paths = await self.paths(
                destination, target, Role.DESTINATION, destination_options, "destination"
            )
        if ends_ok and decl.kind == "events" and destination is not None and decl.event_type:
            await self.event_type(destination, destination_options, decl.event_type)
        self.expressions(input_paths, output_paths)
        if len(self.issues) > before:
            return None

        config = PipelineConfig(
            source_options=dict(decl.source.options) if decl.source else {},
            destination_options=dict(decl.destination.options) if decl.destination else {},
            filter=decl.filter,
            mapping=decl.mapping,
            batch_size=decl.batch_size or DEFAULT_BATCH_SIZE,
            schedule_seconds=decl.schedule.every if decl.schedule else None,
            overlap_seconds=(
                decl.overlap
                if decl.overlap is not None
                else (DEFAULT_OVERLAP_SECONDS if decl.kind != "events" else 0)
            ),
            purge=bool(decl.purge),
            mode=decl.mode or "both",
            matching=decl.matching,
            event_type=decl.event_type,
            event_sources=list(decl.event_sources or []),
        )
        return DesiredPipeline(
            name=self.name,
            kind=decl.kind,
            target=target,
            source=source.name if source else None,
            destination=destination.name if destination else None,
            config=config,
            enabled=decl.enabled,
        )

    async def end(self, side: str, role: str, target: str) -> End | None:
        side_decl = getattr(self.decl, side)
        name = side_decl.connection
        where: Path = (side, "connection") if side_decl.options else (side,)
        end = await self._resolve(name)
        if end is None:
            self.problem(
                where,
                f"unknown connection {name!r}: declare it under connections: or create it "
                "first; `syncline connections list` shows the stored ones",
            )
            return None
        spec = end.entry.spec
        if role not in end.roles:
            self.problem(
                where,
                f"connection {name!r} is not a {role} (its roles: {', '.join(sorted(end.roles))})",
            )
            return None
        targets = spec.source_targets() if role == "source" else spec.destination_targets()
        usable = [t for t in targets if t != EVENTS] if target != EVENTS else list(targets)
        if target not in usable and not (ANY_TARGET in usable and target != EVENTS):
            self.problem(
                ("target",),
                f"connector {spec.code!r} (connection {name!r}) does not {_verb(role)} target "
                f"{target!r}; it {_verb(role)}s: {', '.join(usable) or 'nothing'}",
            )
            return None
        return end

    async def _resolve(self, name: str) -> End | None:
        if name in self.ends:
            return self.ends[name]
        declared = self.project.connections.get(name)
        end: End | None = None
        if declared is not None:
            end = End(name, declared.entry, declared.roles, declared)
        else:
            from syncline.store import NotFound

            try:
                stored = await self.store.connections.get(name)
            except NotFound:
                stored = None
            if stored is not None:
                try:
                    entry = registry.get(stored.connector)
                except KeyError:
                    entry = None
                if entry is not None:
                    end = End(name, entry, frozenset(stored.roles), None)
        self.ends[name] = end
        return end

    def options(self, side: str, end: End | None) -> BaseModel | None:
        side_decl = getattr(self.decl, side)
        if end is None or side_decl is None:
            return None
        model = end.entry.spec.pipeline_options
        given = side_decl.options
        base: Path = (side, "options")
        if model is None:
            for key in given:
                self.problem(
                    (*base, key),
                    f"connector {end.entry.code!r} takes no pipeline options; remove it",
                )
            return None
        try:
            return model.model_validate(given)
        except ValidationError as exc:
            for problem in settings_errors(exc):
                path = (*base, *problem.field.split(".")) if problem.field else base
                message = problem.message
                if message == "Field required":
                    message = f"is required by connector {end.entry.code!r}"
                self.problem(path, f"invalid pipeline option: {message}")
            return None

    async def event_sources(self) -> None:
        from syncline.store import NotFound

        for position, source in enumerate(self.decl.event_sources or []):
            if source in self.project.event_sources:
                continue
            try:
                await self.store.event_sources.get(source)
            except NotFound:
                self.problem(
                    ("event_sources", position),
                    f"unknown event source {source!r}: declare it under event_sources:",
                )

    async def paths(
        self, end: End, target: str, role: Role, options: BaseModel | None, side: str
    ) -> set[str] | None:
        if not self.wanted(end):
            return None
        try:
            schema = await _read_schema(self.store, end, target, role, options)
        except Exception as exc:  # any failure of a connector's schema read is reported
            message = (
                f"cannot read the {role.value} schema of target {target!r} from connection "
                f"{end.name!r}: {type(exc).__name__}: {exc}"
            )
            if self.schemas is SchemaCheck.ALWAYS:
                self.problem((side,), message)
            else:
                self.warnings.append(
                    self.project.issue(
                        (*self.base, side), f"{message}; property names not checked on this side"
                    )
                )
            return None
        if role is Role.DESTINATION and not schema.properties:
            # A destination with no properties yet (a table the first run will
            # create from the mapping) accepts whatever the mapping produces.
            return None
        return {path for path, _ in schema.walk()}

    def wanted(self, end: End) -> bool:
        """Whether ``end``'s connector is asked (for schemas, event types) under the mode."""
        return self.schemas is SchemaCheck.ALWAYS or (
            self.schemas is SchemaCheck.AUTO and not end.entry.spec.endpoint_groups
        )

    async def event_type(self, end: End, options: BaseModel | None, type_id: str) -> None:
        if not self.wanted(end):
            return
        try:
            known = await _event_type_ids(self.store, end, options)
        except Exception as exc:  # reported like an unreadable schema
            message = (
                f"cannot read the event types of connection {end.name!r}: "
                f"{type(exc).__name__}: {exc}"
            )
            if self.schemas is SchemaCheck.ALWAYS:
                self.problem(("destination",), message)
            else:
                self.warnings.append(self.project.issue((*self.base, "destination"), message))
            return
        if type_id not in known:
            self.problem(
                ("event_type",),
                f"connector {end.entry.code!r} has no event type {type_id!r}; it has: "
                f"{', '.join(known) or 'none'}",
            )
            return
        if (
            self.decl.mapping
            and await _event_type_schema(self.store, end, options, type_id) is None
        ):
            self.problem(
                ("mapping",),
                f"event type {type_id!r} of connector {end.entry.code!r} takes no values "
                "(it has no values schema), so a mapping would be ignored; remove `mapping`",
            )

    def expressions(self, input_paths: set[str] | None, output_paths: set[str] | None) -> None:
        from syncline.engine.expressions import check_filter, check_mapping

        inputs: Any = input_paths if input_paths is not None else _anything
        outputs: Any = output_paths if output_paths is not None else _anything
        if self.decl.filter is not None:
            for error in check_filter(self.decl.filter, inputs):
                self.problem(("filter",), str(error))
        for output, expression in (self.decl.mapping or {}).items():
            for error in check_mapping({output: expression}, inputs, outputs):
                self.problem(("mapping", output), str(error))
        matching = self.decl.matching
        if matching is not None:
            if self.decl.mapping is not None and matching not in self.decl.mapping:
                self.problem(
                    ("matching",),
                    f"{matching!r} is not an output of the mapping; map it (e.g. "
                    f"{matching}: <expression>) so rows can be matched",
                )
            elif output_paths is not None and matching not in output_paths:
                self.problem(
                    ("matching",), f"{matching!r} is not a property of the destination schema"
                )


def _anything(path: str) -> bool:
    return True


def _verb(role: str) -> str:
    return "read" if role == "source" else "write"


async def _ask(
    store: Store, end: End, options: BaseModel | None, question: Callable[[Any], Awaitable[T]]
) -> T:
    """``question(instance)`` for an instance built with the settings being applied.

    A connection declared in the file is built from its declared settings (held
    in memory: nothing is written); one only in the store from its stored settings.
    """
    from syncline.engine.connections import build_http_client, instantiate

    if end.declared is None:
        connection = await store.connections.get(end.name)
        async with await instantiate(end.entry, connection, store, options) as opened:
            return await question(opened.instance)
    spec = end.entry.spec
    settings = MemorySettingsStore(end.declared.settings) if end.declared.settings else None
    async with build_http_client(spec, settings, key=f"apply:{end.name}") as http:
        env: Env[Any] = Env(
            settings=settings if settings is not None else MemorySettingsStore(_Empty()),
            http=http,
            connection=end.name,
            options=options,
        )
        return await question(end.entry.cls(env))


async def _read_schema(
    store: Store, end: End, target: str, role: Role, options: BaseModel | None
) -> Object:
    """The connector's schema of ``target``."""

    async def question(instance: Any) -> Object:
        schema = await instance.record_schema(target, role)
        if not isinstance(schema, Object):
            raise TypeError(f"record_schema returned {type(schema).__name__}, not an Object")
        return schema

    return await _ask(store, end, options, question)


async def _event_type_ids(store: Store, end: End, options: BaseModel | None) -> list[str]:
    """The ids of the event types the destination can send as."""

    async def question(instance: Any) -> list[str]:
        return [event_type.id for event_type in await instance.event_types()]

    return await _ask(store, end, options, question)


async def _event_type_schema(
    store: Store, end: End, options: BaseModel | None, type_id: str
) -> Any:
    """The values schema of the destination's event type ``type_id`` (None: no values)."""

    async def question(instance: Any) -> Any:
        return await instance.event_type_schema(type_id)

    return await _ask(store, end, options, question)


class _Empty(BaseModel):
    pass
