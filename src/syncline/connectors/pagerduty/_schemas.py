"""The static schemas of PagerDuty users and incidents, and the projection of API objects onto them.

PagerDuty objects carry more keys than a pipeline needs (``self``, ``type``,
nested references with their own links). Syncline's validator refuses keys a
schema does not declare, so :func:`projector` keeps exactly the declared
properties, at every depth, and leaves out the rest.

Nested references (an incident's service, escalation policy, assignees, teams)
are typed objects rather than opaque JSON: a mapping can then use
``service.id`` or ``assignments`` element fields directly, and a destination
table gets typed columns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from syncline import types as t

__all__ = [
    "INCIDENTS",
    "INCIDENT_STATUSES",
    "INCIDENT_URGENCIES",
    "USERS",
    "USER_ROLES",
    "Projector",
    "projector",
]

USER_ROLES = (
    "admin",
    "limited_user",
    "observer",
    "owner",
    "read_only_user",
    "restricted_access",
    "read_only_limited_user",
    "user",
)
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
INCIDENT_URGENCIES = ("high", "low")


def _reference(description: str) -> t.Object:
    """A PagerDuty reference: ``{id, type, summary, html_url}`` (``self`` is left out)."""
    return t.Object(
        [
            t.Property("id", t.String(max_length=64), description=f"{description} ID"),
            t.Property("type", t.String(max_length=64), read_optional=True),
            t.Property("summary", t.String(), nullable=True, read_optional=True),
            t.Property("html_url", t.String(), nullable=True, read_optional=True),
        ]
    )


_TEAMS = t.Array(_reference("Team"))

USERS = t.Object(
    [
        t.Property("name", t.String(max_length=100), description="Full name"),
        t.Property("email", t.String(max_length=254), description="Login email address"),
        t.Property("time_zone", t.String(max_length=64), nullable=True, read_optional=True),
        t.Property("color", t.String(max_length=32), nullable=True, read_optional=True),
        t.Property("role", t.String(values=list(USER_ROLES)), nullable=True, read_optional=True),
        t.Property("job_title", t.String(max_length=100), nullable=True, read_optional=True),
        t.Property("description", t.String(), nullable=True, read_optional=True),
        t.Property("avatar_url", t.String(), nullable=True, read_optional=True),
        t.Property("invitation_sent", t.Boolean(), nullable=True, read_optional=True),
        t.Property("teams", _TEAMS, nullable=True, read_optional=True),
        t.Property("html_url", t.String(), nullable=True, read_optional=True),
    ]
)
"""A PagerDuty user. Users have no modification time in the API (see the connector docs)."""

INCIDENTS = t.Object(
    [
        t.Property("incident_number", t.Int(bits=64, unsigned=True)),
        t.Property("title", t.String()),
        t.Property("description", t.String(), nullable=True, read_optional=True),
        t.Property("status", t.String(values=list(INCIDENT_STATUSES))),
        t.Property("urgency", t.String(values=list(INCIDENT_URGENCIES))),
        t.Property("incident_key", t.String(), nullable=True, read_optional=True),
        t.Property("created_at", t.DateTime()),
        t.Property("updated_at", t.DateTime(), nullable=True, read_optional=True),
        t.Property("last_status_change_at", t.DateTime(), nullable=True, read_optional=True),
        t.Property("resolved_at", t.DateTime(), nullable=True, read_optional=True),
        t.Property("service", _reference("Service")),
        t.Property("escalation_policy", _reference("Escalation policy"), nullable=True),
        t.Property(
            "assignments",
            t.Array(
                t.Object(
                    [
                        t.Property("at", t.DateTime()),
                        t.Property("assignee", _reference("User")),
                    ]
                )
            ),
            nullable=True,
            read_optional=True,
        ),
        t.Property("teams", _TEAMS, nullable=True, read_optional=True),
        t.Property("priority", _reference("Priority"), nullable=True, read_optional=True),
        t.Property("html_url", t.String(), nullable=True, read_optional=True),
    ]
)
"""A PagerDuty incident. ``updated_at`` falls back to ``last_status_change_at`` when absent."""


Projector = Callable[[Any], Any]


@functools.lru_cache(maxsize=64)
def projector(kind: t.Type) -> Projector:
    """A function reducing a value to what ``kind`` declares: unknown object keys dropped, at every depth.

    Built once per type (types are immutable and hashable) so that per record
    only the values cost time. Values of scalar kinds are returned unchanged
    (the engine normalizes and validates them); a value whose shape does not
    match ``kind`` (a string where an object is declared) is returned
    unchanged too, so validation reports it as a per-record error instead of
    this function hiding it.
    """
    if isinstance(kind, t.Object):
        fields = [(prop.name, projector(prop.type)) for prop in kind.properties]

        def project_object(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {name: step(value[name]) for name, step in fields if name in value}

        return project_object
    if isinstance(kind, t.Array):
        element = projector(kind.element)

        def project_array(value: Any) -> Any:
            return [element(item) for item in value] if isinstance(value, list) else value

        return project_array
    return _same


def _same(value: Any) -> Any:
    return value
