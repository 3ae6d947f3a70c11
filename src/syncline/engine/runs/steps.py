"""The per-record steps between reading and writing: validate, filter, map, check.

:class:`RecordSteps` is built once per run (schemas compiled once, expressions
compiled once) and applied to every record read:

1. a record the source could not read (``error`` set) or without an ID is
   **invalid**;
2. the source schema's compiled validator normalizes the attributes; a
   ``ValidationError`` makes the record **invalid**, stored as the error's fixed
   text (property path and rule, never the value);
3. the filter, if any, may leave it out (**filtered**);
4. the mapping, if any, computes the destination's attributes (**transformed**);
   a ``MappingError`` **fails** the record (the caller counts the records
   that come out as **transformed**);
5. with a mapping, the destination schema's validator (compiled for the write
   operation) checks the result; a failure makes it **invalid**.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from syncline.engine.runs.tally import Tally
from syncline.types import Object, TimeLayouts, ValidationError, compile
from syncline.types._compile import Operation

if TYPE_CHECKING:
    from syncline.engine.expressions.filters import Filter
    from syncline.engine.expressions.mappings import Mapping

__all__ = ["RecordSteps", "StepsError"]

_NO_ID = "the source returned a record without an ID"


class StepsError(ValueError):
    """A filter or mapping cannot be compiled; the message shows where (with a caret)."""


class RecordSteps:
    """Compiled validate → filter → map → check for one run."""

    def __init__(
        self,
        source_schema: Object,
        layouts: TimeLayouts | None,
        filter_source: Any,
        mapping_source: dict[str, str] | None,
        destination_schema: Object | None,
        tally: Tally,
        *,
        operation: Operation = "update",
    ) -> None:
        self.validate = compile(source_schema, layouts=layouts, operation="read")
        self._filter: Filter | None = None
        self._mapping: Mapping | None = None
        self._mapping_error: type[Exception] = Exception
        if filter_source or mapping_source:
            # The expression language is loaded only by runs that use it: a
            # sizeable part of a plain run's start-up otherwise.
            from syncline.engine.expressions.errors import ExpressionError, MappingError
            from syncline.engine.expressions.filters import compile_filter
            from syncline.engine.expressions.mappings import compile_mapping

            try:
                self._filter = compile_filter(filter_source) if filter_source else None
                self._mapping = compile_mapping(mapping_source) if mapping_source else None
            except ExpressionError as error:
                raise StepsError(str(error)) from None
            self._mapping_error = MappingError
        self._check = (
            compile(destination_schema, layouts=None, operation=operation)
            if self._mapping is not None and destination_schema is not None
            else None
        )
        self._tally = tally

    @property
    def passthrough(self) -> bool:
        """True when there is neither a filter nor a mapping: validated values are written."""
        return self._filter is None and self._mapping is None

    def source_values(self, record_id: str, attributes: Any, error: Any) -> dict[str, Any] | None:
        """Steps 1-2: the normalized source attributes, or None (counted as invalid)."""
        tally = self._tally
        if error is not None or not record_id:
            tally.add("invalid")
            message = _NO_ID if not record_id else _source_error(error)
            tally.error(message, record_id or None)
            return None
        try:
            return self.validate(attributes)
        except ValidationError as invalid:
            tally.add("invalid")
            tally.error(str(invalid), record_id)
            return None

    def destination_values(self, record_id: str, values: dict[str, Any]) -> dict[str, Any] | None:
        """Steps 3-5 on normalized source values: the attributes to write, or None."""
        tally = self._tally
        if self._filter is not None and not self._filter(values):
            tally.add("filtered")
            return None
        if self._mapping is None:
            return values
        try:
            mapped = self._mapping(values)
        except self._mapping_error as failed:
            tally.add("failed")
            tally.error(str(failed), record_id)
            return None
        if self._check is not None:
            try:
                mapped = self._check(mapped)
            except ValidationError as invalid:
                tally.add("invalid")
                tally.error(f"after mapping, {invalid}", record_id)
                return None
        return mapped


def _source_error(error: Any) -> str:
    from syncline.engine.runs.tally import message_of

    return f"the source could not read the record: {message_of(error)}"
