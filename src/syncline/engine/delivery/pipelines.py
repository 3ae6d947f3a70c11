"""Event pipelines compiled once: filter, mapping and the event type's validator.

An event pipeline routes received messages of its event sources to one
destination connection, as one of the connector's event types:

* **filter** — the pipeline's ``filter``; when it has none, the event type's
  ``default_filter``; when neither, every message passes. (To pass every
  message of an event type that has a default filter, write ``filter: "true"``.)
* **mapping** — the event type schema's ``prefilled`` expressions, overridden
  and extended by the pipeline's ``mapping``; input paths read the Segment
  message (``traits.email``, ``properties.price``, ``context.page.url``).
* **validation** — the mapped values checked by the schema's compiled
  validator (operation ``create``: ``create_required`` properties must be
  present). A type without a schema carries no values.

A message that fails the mapping or the validation becomes a dead letter of
that pipeline with a fixed message naming the property and the rule, never the
value (:meth:`EventPipeline.route`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from syncline.engine.config.model import PipelineConfig
from syncline.engine.expressions import (
    ExpressionError,
    Filter,
    Mapping,
    MappingError,
    compile_filter,
    compile_mapping,
)
from syncline.sdk.errors import ConnectorError
from syncline.sdk.events import EventType, EventTypeInfo
from syncline.store import Pipeline
from syncline.types import Object, ValidationError, Validator
from syncline.types import compile as compile_schema

__all__ = ["EventPipeline", "RouteResult", "compile_pipeline", "user_key"]

RouteResult = tuple[Literal["filtered", "mapped", "invalid"], dict[str, Any] | None, str | None]
"""``(step, values, error)`` for one message: values when mapped, a fixed error when invalid."""


def user_key(anonymous_id: str | None, user_id: str | None) -> str:
    """The per-user ordering key: the anonymous ID, else the user ID.

    It agrees with ``Events.same_user()``: a message with an anonymous ID is
    keyed by it whatever its user ID; one without is keyed by its user ID.
    """
    if anonymous_id:
        return "a:" + anonymous_id
    return "u:" + (user_id or "")


@dataclass(slots=True)
class EventPipeline:
    """One compiled event pipeline; ``broken`` set when it cannot be compiled.

    A broken pipeline (its connector is not installed, its event type is gone,
    its filter no longer parses) still routes: every message of its sources
    becomes a dead letter carrying ``broken``, so nothing is lost and
    ``syncline events replay`` delivers them once the pipeline is fixed.
    """

    id: int
    name: str
    connection_id: int
    source_ids: frozenset[int] | None
    type_id: str
    schema: Object | None
    filter: Filter | None
    mapping: Mapping | None
    validator: Validator | None
    broken: str | None = None
    # The type info of events without values, shared (it is immutable).
    _bare: EventTypeInfo | None = field(default=None, repr=False, compare=False)

    def accepts_source(self, source_id: int) -> bool:
        return self.source_ids is None or source_id in self.source_ids

    def route(self, message: dict[str, Any], *, apply_filter: bool = True) -> RouteResult:
        """Filter, map and validate one message (never raises for bad data).

        Values are returned in their JSON form (what the store keeps); the
        canonical values are computed again at send time by :meth:`values`.
        ``apply_filter=False`` maps a message the user chose (replay, preview).
        """
        if self.broken is not None:
            return "invalid", None, self.broken
        if apply_filter and self.filter is not None and not self.filter(message):
            return "filtered", None, None
        if self.mapping is None or self.validator is None:
            return "mapped", None, None
        try:
            mapped = self.mapping(message)
            self.validator(mapped)
        except MappingError as error:
            return "invalid", None, f"event type {self.type_id!r}: {error}"
        except ValidationError as error:
            return "invalid", None, self.invalid_message(error)
        # JSON form: the validator is lenient on input, so ISO strings and
        # numeric strings give the same canonical values again at send time.
        return "mapped", orjson.loads(orjson.dumps(mapped, default=str)), None

    def invalid_message(self, error: ValidationError) -> str:
        where = f'property "{error.path}"' if error.path else "the values"
        return (
            f"event type {self.type_id!r}: {where} breaks rule {error.rule!r}: "
            f"{error.message} (got {error.value_type})"
        )

    def values(self, stored: dict[str, Any] | None) -> dict[str, Any] | None:
        """The canonical values of a routed row; ``ValidationError`` if they no longer fit."""
        if self.validator is None or stored is None:
            return None
        return self.validator(stored)

    def type_info(self, values: dict[str, Any] | None) -> EventTypeInfo:
        """The connector's event type with ``values`` (one shared value when there are none)."""
        if values is not None:
            return EventTypeInfo(self.type_id, self.schema, values)
        if self._bare is None:
            self._bare = EventTypeInfo(self.type_id, self.schema, None)
        return self._bare


def _broken(pipeline: Pipeline, sources: frozenset[int] | None, why: str) -> EventPipeline:
    return EventPipeline(
        id=pipeline.id,
        name=pipeline.name,
        connection_id=pipeline.destination_connection_id or 0,
        source_ids=sources,
        type_id="",
        schema=None,
        filter=None,
        mapping=None,
        validator=None,
        broken=f"pipeline cannot deliver: {why}",
    )


async def compile_pipeline(
    pipeline: Pipeline, connector: Any | None, source_ids: dict[str, int], why_no_connector: str
) -> EventPipeline:
    """Compile ``pipeline`` for its destination connector instance.

    ``connector`` is the open connector's instance (None when it could not be
    opened; ``why_no_connector`` says why); ``source_ids`` maps event source
    names to ids. Never raises for a bad configuration: the result is a
    broken pipeline whose message says what to fix.
    """
    config = PipelineConfig.of(pipeline.config or {})
    sources: frozenset[int] | None = None
    if config.event_sources:
        unknown = [name for name in config.event_sources if name not in source_ids]
        sources = frozenset(source_ids[n] for n in config.event_sources if n in source_ids)
        if unknown and not sources:
            return _broken(pipeline, frozenset(), f"unknown event source {unknown[0]!r}")
    if connector is None:
        return _broken(pipeline, sources, why_no_connector)
    type_id = config.event_type
    try:
        types: list[EventType] = await connector.event_types()
        if type_id is None:
            if len(types) != 1:
                return _broken(pipeline, sources, "no event_type is set; choose one")
            type_id = types[0].id
        event_type = next((t for t in types if t.id == type_id), None)
        if event_type is None:
            return _broken(pipeline, sources, f"the connector has no event type {type_id!r}")
        schema = await connector.event_type_schema(type_id)
    except ConnectorError as error:
        return _broken(pipeline, sources, f"cannot read the event types: {error}")
    if schema is None and config.mapping:
        # A mapping here would compute values no one receives: refuse it loudly
        # rather than ignore it (the dead letters can be replayed once fixed).
        return _broken(
            pipeline,
            sources,
            f"event type {type_id!r} takes no values (it has no values schema), so the "
            "pipeline's mapping would be ignored; remove `mapping` from the pipeline",
        )
    source = config.filter if config.filter is not None else event_type.default_filter
    try:
        compiled_filter = compile_filter(source) if source is not None else None
        expressions: dict[str, str] = {}
        if schema is not None:
            expressions = {p.name: p.prefilled for p in schema.properties if p.prefilled}
            expressions.update(config.mapping or {})
        mapping = compile_mapping(expressions) if schema is not None else None
    except ExpressionError as error:
        return _broken(pipeline, sources, str(error).splitlines()[0])
    return EventPipeline(
        id=pipeline.id,
        name=pipeline.name,
        connection_id=pipeline.destination_connection_id or 0,
        source_ids=sources,
        type_id=type_id,
        schema=schema,
        filter=compiled_filter,
        mapping=mapping,
        validator=compile_schema(schema, operation="create") if schema is not None else None,
    )
