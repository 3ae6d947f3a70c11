"""Registering connectors, checking them against their spec, and finding them.

A connector module registers its class when it is imported::

    @connector(SPEC)
    class HubSpot: ...

Registration checks the class against the spec and raises
:class:`~syncline.sdk.errors.SpecError` at import time when they disagree, naming
the missing method or field. Shipped connectors and third-party ones are found
the same way: through the ``syncline.connectors`` entry-point group, whose
entries name a module (or an object in it) that registers when imported.

Loading is lazy, by code: :func:`get` imports only the entry points named like
the code it asks for (an entry point's name is its connector's code by
convention), and falls back to importing every entry point when that does not
register the code. A process that runs one pipeline therefore imports two
connectors, not all of them. :func:`registered` and :func:`discover` import
every entry point.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from syncline.sdk.errors import SpecError
from syncline.sdk.spec import EVENTS, ApplicationSpec

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "ENTRY_POINT_GROUP",
    "LoadFailure",
    "Registered",
    "connector",
    "discover",
    "get",
    "register",
    "registered",
    "unregister",
]

ENTRY_POINT_GROUP = "syncline.connectors"

C = TypeVar("C", bound=type)

_SIGNATURES = {
    "record_schema": "async def record_schema(self, target: str, role: Role) -> Object",
    "records": "async def records(self, target, updated_at, cursor, schema) -> RecordsPage",
    "upsert": "async def upsert(self, target: str, records: Records, schema: Object) -> None",
    "event_types": "async def event_types(self) -> list[EventType]",
    "event_type_schema": "async def event_type_schema(self, type_id: str) -> Object | None",
    "send_events": "async def send_events(self, events: Events) -> None",
    "preview_send_events": (
        "async def preview_send_events(self, events: Events) -> httpx.Request | None"
    ),
    "check": "async def check(self) -> list[Problem]",
    "oauth_account": "async def oauth_account(self) -> str",
}


@dataclass(frozen=True, slots=True)
class Registered:
    """A registered connector: its spec, its class, and where it came from."""

    spec: ApplicationSpec
    cls: type
    origin: str

    @property
    def code(self) -> str:
        return self.spec.code

    def can(self, method: str) -> bool:
        return callable(getattr(self.cls, method, None))


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """An entry point that could not be loaded, and why."""

    entry_point: str
    error: str


_lock = threading.RLock()
_registry: dict[str, Registered] = {}
_discovered = False
_failures: list[LoadFailure] = []


def connector(spec: ApplicationSpec) -> Callable[[C], C]:
    """Class decorator: register the class with ``spec`` (see :func:`register`)."""

    def decorate(cls: C) -> C:
        register(spec, cls)
        return cls

    return decorate


def register(spec: ApplicationSpec, cls: type) -> Registered:
    """Check ``cls`` against ``spec`` and register it under ``spec.code``.

    Raises SpecError naming what to fix when they disagree or when another
    class is already registered under the same code. Registering the same
    class again (a module imported twice) is allowed and replaces the entry.
    """
    if not isinstance(spec, ApplicationSpec):
        raise SpecError(f"register(): {spec!r} is not an ApplicationSpec")
    if not isinstance(cls, type):
        raise SpecError(f"register({spec.code!r}): {cls!r} is not a class")
    check_class(spec, cls)
    origin = f"{cls.__module__}.{cls.__qualname__}"
    entry = Registered(spec=spec, cls=cls, origin=origin)
    with _lock:
        existing = _registry.get(spec.code)
        if existing is not None and existing.origin != origin:
            raise SpecError(
                f"connector code {spec.code!r} is registered twice: by {existing.origin} and "
                f"by {origin}; give one of them another code"
            )
        _registry[spec.code] = entry
    return entry


def unregister(code: str) -> None:
    """Forget the connector registered under ``code`` (for tests of registration)."""
    with _lock:
        _registry.pop(code, None)


def check_class(spec: ApplicationSpec, cls: type) -> None:
    """Raise SpecError unless ``cls`` implements exactly what ``spec`` declares."""
    where = f"connector {spec.code!r} ({cls.__module__}.{cls.__qualname__})"
    problems: list[str] = []

    def has(name: str) -> bool:
        return getattr(cls, name, None) is not None

    def need(name: str, because: str) -> None:
        method = getattr(cls, name, None)
        if method is None:
            problems.append(
                f"{because} but the class has no method {name!r}; add `{_SIGNATURES[name]}`"
            )
        elif not inspect.iscoroutinefunction(method):
            problems.append(f"method {name!r} must be async; write `{_SIGNATURES[name]}`")

    def forbid(name: str, because: str) -> None:
        if has(name):
            problems.append(f"the class has method {name!r} but {because}")

    source_targets = spec.source_targets()
    record_destinations = [t for t in spec.destination_targets() if t != EVENTS]
    sends_events = EVENTS in spec.destination_targets()

    if source_targets:
        why = f"as_source declares targets {source_targets!r}"
        need("record_schema", why)
        need("records", why)
    if record_destinations:
        why = f"as_destination declares targets {tuple(record_destinations)!r}"
        need("record_schema", why)
        need("upsert", why)
    else:
        forbid("upsert", "as_destination declares no record target; declare one or remove upsert")
    if sends_events:
        why = "as_destination declares target 'events'"
        for name in ("event_types", "event_type_schema", "send_events", "preview_send_events"):
            need(name, why)
    else:
        for name in ("send_events", "preview_send_events"):
            forbid(
                name,
                "as_destination does not declare target 'events'; declare it or remove the method",
            )
    if spec.has_settings:
        if spec.settings is None:
            problems.append(
                "a role has has_settings=True but the spec has no settings model; set "
                "settings=YourSettings (a pydantic BaseModel) or has_settings=False"
            )
        need("check", "the connector has settings")
    elif spec.settings is not None:
        problems.append(
            "the spec has a settings model but no role has has_settings=True; set "
            "has_settings=True on the roles that use it"
        )
    if spec.oauth is not None:
        need("oauth_account", "the spec declares oauth")
    else:
        forbid("oauth_account", "the spec declares no oauth; set oauth=OAuthSpec(...) or remove it")
    if spec.terms != type(spec.terms)() and "users" not in (
        *source_targets,
        *record_destinations,
    ):
        problems.append("terms are set but the connector has no 'users' target; remove terms")

    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        params = []
    required = [
        p
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(required) != 1:
        problems.append(
            "the constructor must take exactly one required argument, the Env: "
            "`def __init__(self, env: Env[YourSettings]) -> None`"
        )

    if problems:
        bullet = "\n  - "
        raise SpecError(f"{where} does not match its spec:{bullet}{bullet.join(problems)}")


def discover(*, reload: bool = False) -> list[LoadFailure]:
    """Import every module of the ``syncline.connectors`` entry-point group once.

    Returns the entry points that failed to load (each with its error); the
    others are registered. Safe to call often: loading happens once unless
    ``reload`` is given.
    """
    global _discovered
    with _lock:
        if _discovered and not reload:
            return list(_failures)
        from importlib.metadata import entry_points

        _failures.clear()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            failure = _load(ep)
            if failure is not None:
                _failures.append(failure)
        _discovered = True
        return list(_failures)


def _load(ep: EntryPoint) -> LoadFailure | None:
    label = f"{ep.name} = {ep.value}"
    dist = getattr(ep, "dist", None)
    if dist is not None:
        label += f" (from {dist.name})"
    try:
        ep.load()
    except SpecError as exc:
        return LoadFailure(label, str(exc))
    except Exception as exc:  # a broken plugin must not hide the others
        return LoadFailure(label, f"{type(exc).__name__}: {exc}")
    return None


def registered() -> list[Registered]:
    """Every registered connector, sorted by code (after discovery)."""
    discover()
    with _lock:
        return sorted(_registry.values(), key=lambda r: r.code)


def get(code: str) -> Registered:
    """The connector registered under ``code``; KeyError names the known codes.

    A connector already registered (its module imported) is returned as is.
    Otherwise the entry points named ``code`` are loaded; when none of them
    registers ``code`` (no such entry point, a plugin whose entry-point name
    differs from its code, or one that fails to load) every entry point is
    loaded, as :func:`discover` does, before giving up. The KeyError then
    lists every known code and says how many entry points failed to load.
    """
    with _lock:
        entry = _registry.get(code)
        if entry is None and not _discovered:
            _load_named(code)
            entry = _registry.get(code)
        if entry is None:
            failures = discover()
            entry = _registry.get(code)
        if entry is not None:
            return entry
        known = ", ".join(sorted(_registry)) or "none"
        broken = f" {len(failures)} connector entry point(s) failed to load." if failures else ""
        raise KeyError(
            f"unknown connector {code!r}; known connectors: {known}.{broken} "
            "Run `syncline connectors` to list them."
        )


def _load_named(code: str) -> None:
    """Load the entry points named ``code``, in :func:`discover`'s order.

    Failures are not recorded here: :func:`get` falls back to :func:`discover`,
    which loads the failing entry point again and records why it failed.
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP, name=code):
        _load(ep)


def instantiate(code: str, env: Any) -> Any:
    """A new instance of the connector ``code`` with ``env``."""
    return get(code).cls(env)
