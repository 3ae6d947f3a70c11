"""Compile an object schema into one generated Python function that validates and normalizes.

The schema is walked once, here; what runs per record is straight-line Python
with the checks unrolled per property, so the cost of a record is the cost of
its values, never of interpreting the schema.

Generated code is built only from our own fixed snippets: property names enter
it as string literals, and they are valid identifiers (checked again here);
every other schema-derived value (bounds, messages, patterns, enum sets, paths,
converters) is passed in the function's namespace under a generated name, so no
user data is ever formatted into source text.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from syncline.types import _convert as c
from syncline.types import _model as m
from syncline.types._errors import ValidationError
from syncline.types._kinds import Kind
from syncline.types._layouts import TimeLayouts

__all__ = ["Operation", "Validator", "compile"]

Operation = Literal["read", "create", "update"]
_OPERATIONS = ("read", "create", "update")

# Deeper nesting moves into a separate generated function, because CPython
# refuses more than 20 statically nested blocks in one function.
_MAX_INLINE_INDENT = 10

_Path = list[tuple[bool, str]]  # (is_static_text, text or expression)


def _map_key_path(key: str) -> str:
    return "." + key if m.is_valid_property_name(key) and len(key) <= 64 else ".*"


def _index_path(index: int) -> str:
    return f"[{index}]"


def _unknown_property(
    values: Mapping[Any, Any], known: frozenset[str], prefix: str
) -> ValidationError:
    for key in values:
        if key not in known:
            name = key if m.is_valid_property_name(key) and len(key) <= 64 else "*"
            path = f"{prefix}.{name}" if prefix else name
            return ValidationError(
                path, "unknown_property", type(values[key]).__name__, "is not in the schema"
            )
    raise AssertionError("unreachable: no unknown property found")


def _pick(values: Mapping[Any, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The schema's properties present in a mapping that is not exactly a ``dict``.

    Read with ``get``, as for any mapping, so a ``defaultdict`` or ``Counter``
    never makes up a value for an absent property; the generated code then reads
    the plain dict by subscript, the fast way.
    """
    picked: dict[str, Any] = {}
    for name in names:
        value = values.get(name, _MISSING)
        if value is not _MISSING:
            picked[name] = value
    return picked


def _empty_means_null(t: m.Type) -> bool:
    if isinstance(t, m.String):
        return t.values is not None and "" not in t.values
    return not isinstance(t, m.JSON)


class _Generator:
    def __init__(self, layouts: TimeLayouts, operation: Operation) -> None:
        self.layouts = layouts
        self.operation = operation
        self.namespace: dict[str, Any] = {
            "_E": ValidationError,
            "_R": c.Reject,
            "_M": _MISSING,
            "_Mapping": Mapping,
            "_ix": _index_path,
            "_mk": _map_key_path,
            "_unknown": _unknown_property,
            "_pick": _pick,
            "_fromiso": _dt.datetime.fromisoformat,
            "_isfinite": math.isfinite,
            "_strcopy": str.__str__,
            "_uuid_ok": c.CANONICAL_UUID.fullmatch,
            "_fromtimestamp": _dt.datetime.fromtimestamp,
            "_UTC": _dt.UTC,
        }
        self.functions: list[list[str]] = []
        self.counter = 0
        self._const_ids: dict[tuple[type, Any], str] = {}

    def const(self, value: Any) -> str:
        key = (type(value), value) if _hashable(value) else (object, id(value))
        name = self._const_ids.get(key)
        if name is None:
            name = f"_k{len(self._const_ids)}"
            self._const_ids[key] = name
            self.namespace[name] = value
        return name

    def var(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def path(self, parts: _Path) -> str:
        pieces: list[str] = []
        text = ""
        for static, piece in parts:
            if static:
                text += piece
                continue
            if text:
                pieces.append(self.const(text))
                text = ""
            pieces.append(piece)
        if text or not pieces:
            pieces.append(self.const(text))
        return " + ".join(pieces)

    def fail(self, out: list[str], ind: str, parts: _Path, rule: str, src: str, msg: str) -> None:
        value_type = "'missing'" if src == "_M" else f"type({src}).__name__"
        out.append(f"{ind}raise _E({self.path(parts)}, {rule!r}, {value_type}, {self.const(msg)})")

    def reject(self, out: list[str], ind: str, parts: _Path, src: str) -> None:
        out.append(f"{ind}except _R as e:")
        out.append(
            f"{ind}    raise _E({self.path(parts)}, e.rule, type({src}).__name__, e.message) from None"
        )

    # -- values ------------------------------------------------------------

    def value(
        self,
        out: list[str],
        ind: str,
        t: m.Type,
        src: str,
        parts: _Path,
        nullable: bool,
        sink: Callable[[str], str],
    ) -> None:
        """Emit code normalizing variable *src* of type *t*; ``sink(expr)`` stores a result."""
        if len(ind) > _MAX_INLINE_INDENT * 4 and isinstance(t, m.Object | m.Array | m.Map):
            fn = self.outline(t, nullable)
            out.append(f"{ind}{sink(f'{fn}({src}, {self.path(parts)})')}")
            return
        fast, body = self.fast_path(t, src, parts, ind + "    ", sink)
        first = True
        if fast is not None:
            out.append(f"{ind}if {fast}:")
            out.extend(body)
            first = False
        keyword = "if" if first else "elif"
        out.append(f"{ind}{keyword} {src} is None:")
        self.null(out, ind + "    ", src, parts, nullable, sink, "is null")
        if _empty_means_null(t):
            out.append(f"{ind}elif {src} == '':")
            self.null(out, ind + "    ", src, parts, nullable, sink, "is empty (null)")
        out.append(f"{ind}else:")
        self.slow_path(out, ind + "    ", t, src, parts, sink)

    def null(
        self,
        out: list[str],
        ind: str,
        src: str,
        parts: _Path,
        nullable: bool,
        sink: Callable[[str], str],
        what: str,
    ) -> None:
        if nullable:
            out.append(f"{ind}{sink('None')}")
        elif not parts:
            self.fail(out, ind, parts, "type", src, "not an object")
        else:
            self.fail(out, ind, parts, "nullable", src, f"{what} but not nullable")

    def fast_path(
        self, t: m.Type, src: str, parts: _Path, ind: str, sink: Callable[[str], str]
    ) -> tuple[str | None, list[str]]:
        body: list[str] = []
        if isinstance(t, m.String) and not _empty_means_null(t):
            self.string_checks(body, ind, t, src, parts)
            body.append(f"{ind}{sink(src)}")
            return f"type({src}) is str", body
        if isinstance(t, m.Boolean):
            body.append(f"{ind}{sink(src)}")
            return f"{src} is True or {src} is False", body
        if isinstance(t, m.Int):
            self.int_checks(body, ind, t, src, parts)
            body.append(f"{ind}{sink(src)}")
            return f"type({src}) is int", body
        if isinstance(t, m.Float):
            self.float_checks(body, ind, t, src, parts)
            body.append(f"{ind}{sink(src)}")
            return f"type({src}) is float", body
        if isinstance(t, m.DateTime) and self.layouts.datetime in c.FLOAT_EXACT_UNIX:
            # Timestamps as ints, the usual form for unix layouts: one C call.
            per_second, limit = c.FLOAT_EXACT_UNIX[self.layouts.datetime]
            divisor, bound = self.const(per_second), self.const(limit)
            body.append(f"{ind}{sink(f'_fromtimestamp({src} / {divisor}, _UTC)')}")
            return f"type({src}) is int and -{bound} < {src} < {bound}", body
        if isinstance(t, m.DateTime) and self.layouts.datetime is None:
            # ISO 8601 text that fromisoformat reads as UTC is the common case: no
            # converter call. Anything else (naive, another offset, a form it does
            # not read) goes through the converter, which decides exactly as before;
            # "" is left to the empty-means-null branch.
            moment = self.var("t")
            body.append(f"{ind}try:")
            body.append(f"{ind}    {moment} = _fromiso({src})")
            body.append(f"{ind}except ValueError:")
            body.append(f"{ind}    {moment} = None")
            body.append(f"{ind}if {moment} is None or {moment}.tzinfo is not _UTC:")
            body.append(f"{ind}    try:")
            body.append(f"{ind}        {moment} = {self.const(self.converter(t))}({src})")
            self.reject(body, ind + "    ", parts, src)
            body.append(f"{ind}{sink(moment)}")
            return f"type({src}) is str and {src} != ''", body
        if isinstance(t, m.UUID):
            # Most UUIDs already arrive canonical; anything else goes through uuid.UUID.
            body.append(f"{ind}{sink(src)}")
            return f"type({src}) is str and _uuid_ok({src}) is not None", body
        if isinstance(t, m.Object):
            self.object_body(body, ind, t, src, parts, sink)
            return f"type({src}) is dict or isinstance({src}, _Mapping)", body
        if isinstance(t, m.Array):
            self.array_body(body, ind, t, src, parts, sink)
            return f"type({src}) is list or type({src}) is tuple", body
        if isinstance(t, m.Map):
            self.map_body(body, ind, t, src, parts, sink)
            return f"type({src}) is dict or isinstance({src}, _Mapping)", body
        return None, body

    def slow_path(
        self,
        out: list[str],
        ind: str,
        t: m.Type,
        src: str,
        parts: _Path,
        sink: Callable[[str], str],
    ) -> None:
        if isinstance(t, m.String):
            out.append(f"{ind}if isinstance({src}, str):")
            out.append(f"{ind}    {src} = _strcopy({src})")
            self.string_checks(out, ind + "    ", t, src, parts)
            out.append(f"{ind}    {sink(src)}")
            out.append(f"{ind}else:")
            self.fail(out, ind + "    ", parts, "type", src, "not a string")
            return
        if isinstance(t, m.Object | m.Map | m.Array):
            self.fail(out, ind, parts, "type", src, f"not {_article(t)}")
            return
        converter = self.converter(t)
        result = self.var("x")
        out.append(f"{ind}try:")
        out.append(f"{ind}    {result} = {self.const(converter)}({src})")
        self.reject(out, ind, parts, src)
        if isinstance(t, m.Int):
            self.int_checks(out, ind, t, result, parts, original=src)
        elif isinstance(t, m.Float):
            self.float_checks(out, ind, t, result, parts, original=src)
        out.append(f"{ind}{sink(result)}")

    def converter(self, t: m.Type) -> Callable[[Any], Any]:
        layouts = self.layouts
        simple: dict[Kind, Callable[[Any], Any]] = {
            Kind.BOOLEAN: c.to_boolean,
            Kind.INT: c.to_int,
            Kind.FLOAT: c.to_float,
            Kind.YEAR: c.to_year,
            Kind.UUID: c.to_uuid,
            Kind.IP: c.to_ip,
            Kind.JSON: c.to_json_value,
        }
        if t.kind in simple:
            return simple[t.kind]
        if isinstance(t, m.Decimal):
            return c.decimal_converter(t)
        if isinstance(t, m.DateTime):
            return c.datetime_parser(layouts.datetime)
        if isinstance(t, m.Date):
            return c.date_parser(layouts.date)
        if isinstance(t, m.Time):
            return c.time_parser(layouts.time)
        raise AssertionError(f"no converter for {t.kind}")

    # -- refinements -------------------------------------------------------

    def string_checks(self, out: list[str], ind: str, t: m.String, src: str, parts: _Path) -> None:
        if t.max_length is not None:
            limit = self.const(t.max_length)
            out.append(f"{ind}if len({src}) > {limit}:")
            self.fail(
                out,
                ind + "    ",
                parts,
                "max_length",
                src,
                f"longer than max_length {t.max_length}",
            )
        if t.max_bytes is not None:
            limit = self.const(t.max_bytes)
            out.append(
                f"{ind}if len({src}) * 4 > {limit} and "
                f"len({src}.encode('utf-8', 'surrogatepass')) > {limit}:"
            )
            self.fail(
                out, ind + "    ", parts, "max_bytes", src, f"longer than max_bytes {t.max_bytes}"
            )
        if t.values is not None:
            out.append(f"{ind}if {src} not in {self.const(frozenset(t.values))}:")
            self.fail(out, ind + "    ", parts, "enum", src, "not one of the allowed values")
        if t.pattern is not None:
            matcher = re.compile(t.pattern).fullmatch
            out.append(f"{ind}if {self.const(matcher)}({src}) is None:")
            self.fail(out, ind + "    ", parts, "pattern", src, "does not match the pattern")

    def int_checks(
        self,
        out: list[str],
        ind: str,
        t: m.Int,
        src: str,
        parts: _Path,
        original: str | None = None,
    ) -> None:
        low, high = t.bounds()
        out.append(f"{ind}if {src} < {self.const(low)} or {src} > {self.const(high)}:")
        self.fail(
            out, ind + "    ", parts, "range", original or src, f"outside the range [{low}, {high}]"
        )

    def float_checks(
        self,
        out: list[str],
        ind: str,
        t: m.Float,
        src: str,
        parts: _Path,
        original: str | None = None,
    ) -> None:
        shown = original or src
        if t.real:
            out.append(f"{ind}if not _isfinite({src}):")
            self.fail(out, ind + "    ", parts, "real", shown, "NaN or Infinity is not allowed")
        if t.min is not None or t.max is not None:
            low = -math.inf if t.min is None else t.min
            high = math.inf if t.max is None else t.max
            out.append(f"{ind}if not ({self.const(low)} <= {src} <= {self.const(high)}):")
            self.fail(
                out, ind + "    ", parts, "range", shown, f"outside the range [{t.min}, {t.max}]"
            )
        if t.bits == 32:
            bound = self.const(m.FLOAT32_MAX)
            out.append(f"{ind}if ({src} > {bound} or {src} < -{bound}) and _isfinite({src}):")
            self.fail(
                out, ind + "    ", parts, "range", shown, "outside the range of a 32-bit float"
            )

    # -- composites --------------------------------------------------------

    def object_body(
        self,
        out: list[str],
        ind: str,
        t: m.Object,
        src: str,
        parts: _Path,
        sink: Callable[[str], str],
    ) -> None:
        result, given = self.var("o"), self.var("m")
        # Required properties are read by subscript (cheaper than a get call per
        # property), which is only safe on an exact dict: any other mapping is
        # first reduced to a dict of the schema's properties it has.
        out.append(f"{ind}{given} = {src}")
        out.append(f"{ind}if type({src}) is not dict:")
        out.append(f"{ind}    {src} = _pick({src}, {self.const(tuple(t.names()))})")
        if all(self.required(prop) for prop in t.properties):
            # Every property will be in the result: start from a copy of a dict
            # holding all the keys, in order, so each store replaces a value in
            # place instead of inserting and resizing (same keys, same order).
            template = self.const(dict.fromkeys(t.names()))
            out.append(f"{ind}{result} = {template}.copy()")
        else:
            out.append(f"{ind}{result} = {{}}")
        for prop in t.properties:
            if not m.is_valid_property_name(prop.name):
                raise AssertionError("property names are validated identifiers")
            name = repr(prop.name)
            item = self.var("v")
            sub = [*parts, (True, "." + prop.name if parts else prop.name)]
            store = functools.partial(_store, result, name)
            required = self.required(prop)
            if required:
                out.append(f"{ind}try:")
                out.append(f"{ind}    {item} = {src}[{name}]")
                out.append(f"{ind}except KeyError:")
                self.fail(out, ind + "    ", sub, "required", "_M", required)
                out[-1] += " from None"
                self.value(out, ind, prop.type, item, sub, prop.nullable, store)
            else:
                out.append(f"{ind}{item} = {src}.get({name}, _M)")
                out.append(f"{ind}if {item} is not _M:")
                self.value(out, ind + "    ", prop.type, item, sub, prop.nullable, store)
        known = self.const(frozenset(t.names()))
        out.append(f"{ind}if len({result}) != len({given}):")
        out.append(f"{ind}    raise _unknown({given}, {known}, {self.path(parts)})")
        out.append(f"{ind}{sink(result)}")

    def required(self, prop: m.Property) -> str | None:
        if self.operation == "create" and prop.create_required:
            return "is required for create"
        if self.operation == "update" and prop.update_required:
            return "is required for update"
        if self.operation == "read" and not prop.read_optional and not prop.nullable:
            return "is required"
        return None

    def array_body(
        self,
        out: list[str],
        ind: str,
        t: m.Array,
        src: str,
        parts: _Path,
        sink: Callable[[str], str],
    ) -> None:
        if t.min_elements is not None:
            out.append(f"{ind}if len({src}) < {self.const(t.min_elements)}:")
            self.fail(
                out,
                ind + "    ",
                parts,
                "min_elements",
                src,
                f"fewer than {t.min_elements} elements",
            )
        if t.max_elements is not None:
            out.append(f"{ind}if len({src}) > {self.const(t.max_elements)}:")
            self.fail(
                out,
                ind + "    ",
                parts,
                "max_elements",
                src,
                f"more than {t.max_elements} elements",
            )
        result, index, item = self.var("a"), self.var("i"), self.var("e")
        out.append(f"{ind}{result} = []")
        out.append(f"{ind}for {index}, {item} in enumerate({src}):")
        sub = [*parts, (False, f"_ix({index})")]
        self.value(
            out, ind + "    ", t.element, item, sub, False, lambda e: f"{result}.append({e})"
        )
        if t.unique:
            out.append(f"{ind}if len(set({result})) != len({result}):")
            self.fail(out, ind + "    ", parts, "unique", src, "has duplicate elements")
        out.append(f"{ind}{sink(result)}")

    def map_body(
        self, out: list[str], ind: str, t: m.Map, src: str, parts: _Path, sink: Callable[[str], str]
    ) -> None:
        result, key, item = self.var("d"), self.var("k"), self.var("e")
        out.append(f"{ind}{result} = {{}}")
        out.append(f"{ind}for {key}, {item} in {src}.items():")
        sub = [*parts, (False, f"_mk({key})")]
        out.append(f"{ind}    if type({key}) is not str:")
        self.fail(
            out, ind + "        ", [*parts, (True, ".*")], "type", key, "a map key is not a string"
        )
        self.value(
            out, ind + "    ", t.element, item, sub, False, lambda e: f"{result}[{key}] = {e}"
        )
        out.append(f"{ind}{sink(result)}")

    def outline(self, t: m.Type, nullable: bool) -> str:
        name = self.var("_f")
        lines = [f"def {name}(src, path):"]
        self.value(lines, "    ", t, "src", [(False, "path")], nullable, lambda e: f"return {e}")
        self.functions.append(lines)
        return name

    def build(self, schema: m.Object) -> str:
        lines = ["def validate(data):"]
        self.value(lines, "    ", schema, "data", [], False, lambda e: f"return {e}")
        self.functions.append(lines)
        return "\n\n".join("\n".join(f) for f in self.functions) + "\n"


def _store(target: str, key: str, expression: str) -> str:
    return f"{target}[{key}] = {expression}"


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _article(t: m.Type) -> str:
    if isinstance(t, m.Object):
        return "an object"
    return "an array" if isinstance(t, m.Array) else "a map"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


class Validator:
    """A compiled validator and normalizer for one object schema.

    ``schema``, ``layouts`` and ``operation`` are what it was compiled for;
    ``source`` is the generated Python code, for debugging. Calling it with a mapping of values returns a new dict of canonical values
    (see :func:`compile`) or raises :class:`ValidationError` at the first
    problem found. It holds no mutable state and is safe to share across
    threads and tasks.
    """

    __slots__ = ("_function", "layouts", "operation", "schema", "source")

    def __init__(
        self,
        schema: m.Object,
        layouts: TimeLayouts,
        operation: Operation,
        function: Callable[[Any], dict[str, Any]],
        source: str,
    ) -> None:
        self.schema = schema
        self.layouts = layouts
        self.operation = operation
        self._function = function
        self.source = source

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return self._function(values)

    def validate_many(
        self, rows: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any] | ValidationError]:
        """Each row's normalized dict or its :class:`ValidationError`, in order."""
        function = self._function
        results: list[dict[str, Any] | ValidationError] = []
        append = results.append
        for row in rows:
            try:
                append(function(row))
            except ValidationError as error:
                append(error)
        return results

    def __repr__(self) -> str:
        return f"<Validator operation={self.operation!r} properties={len(self.schema.properties)}>"


def compile(
    schema: m.Object,
    *,
    layouts: TimeLayouts | None = None,
    operation: Operation = "read",
) -> Validator:
    """A :class:`Validator` for *schema*, cached per (schema, layouts, operation).

    The validator takes a mapping and returns a new dict of canonical values:
    ``str``, ``bool``, ``int``, ``float``, ``decimal.Decimal`` quantized to the
    scale, aware UTC ``datetime``, ``date``, naive ``time``, ``int`` years,
    ``str`` UUIDs and IPs, JSON values as Python values, ``list`` and ``dict``.
    Input is lenient (numeric strings, ISO 8601 or *layouts* times, ``""`` as
    null for non-string kinds); see ``docs/types.md`` for every accepted form.

    *operation* decides which absent properties are errors: ``"read"`` (values
    read from an app) requires every non-nullable property that is not
    ``read_optional``; ``"create"`` / ``"update"`` require the properties marked
    ``create_required`` / ``update_required`` (present, even if nullable). An
    absent property that is not required is left out of the result. The same
    rules apply inside nested objects. A key the schema does not have is an
    ``unknown_property`` error.

    Raises :class:`TypeError`/:class:`ValueError` for bad arguments; the
    validator raises :class:`ValidationError` at the first invalid value.
    """
    if not isinstance(schema, m.Object):
        raise TypeError(f"compile: schema must be an Object, got {type(schema).__name__}")
    if operation not in _OPERATIONS:
        raise ValueError(f"compile: operation must be one of {_OPERATIONS}, got {operation!r}")
    if layouts is not None and not isinstance(layouts, TimeLayouts):
        raise TypeError("compile: layouts must be a TimeLayouts or None")
    return _compile_cached(schema, layouts or _DEFAULT_LAYOUTS, operation)


_DEFAULT_LAYOUTS = TimeLayouts()


@functools.lru_cache(maxsize=256)
def _compile_cached(schema: m.Object, layouts: TimeLayouts, operation: Operation) -> Validator:
    generator = _Generator(layouts, operation)
    source = generator.build(schema)
    namespace = generator.namespace
    exec(builtins.compile(source, "<syncline.types validator>", "exec"), namespace)
    return Validator(schema, layouts, operation, namespace["validate"], source)
