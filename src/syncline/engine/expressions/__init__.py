"""The filter and mapping language of pipelines.

A pipeline's *filter* decides which records or events pass; its *mapping*
computes each output property from an expression over the input. Both are
compiled once (to one generated function each, in which user text is only
ever data, never code) and then called once per item on the hot path::

    from syncline.engine.expressions import compile_filter, compile_mapping

    passes = compile_filter("type is 'track' and event is 'Product Added'")
    mapping = compile_mapping({"email": "lower(trim(traits.email))"})
    if passes(message):
        values = mapping(message)

Before any data moves, :func:`check_filter` and :func:`check_mapping` report
unknown properties, unknown functions and wrong arity against the schemas,
each as an :class:`ExpressionError` with a caret under the offending text.
The language, its semantics for missing values and mismatched kinds, and every
function are documented in ``docs/expressions.md``.
"""

from ._functions import FUNCTIONS
from ._schema import SchemaPathsLike
from .errors import ExpressionError, MappingError
from .filters import Filter, FilterSource, check_filter, compile_filter
from .mappings import Mapping, check_mapping, compile_mapping

__all__ = [
    "FUNCTION_NAMES",
    "ExpressionError",
    "Filter",
    "FilterSource",
    "Mapping",
    "MappingError",
    "SchemaPathsLike",
    "check_filter",
    "check_mapping",
    "compile_filter",
    "compile_mapping",
]

FUNCTION_NAMES: frozenset[str] = frozenset(FUNCTIONS)
"""The names of all mapping functions (for editors and completion)."""
