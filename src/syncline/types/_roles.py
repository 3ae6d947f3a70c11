"""Role projection: the view of a schema a source or a destination works with."""

from __future__ import annotations

from syncline.types import _model as m
from syncline.types._kinds import Role

__all__ = ["as_role"]


def as_role(obj: m.Object, role: Role) -> m.Object:
    """*obj* with the flags that do not apply to *role* cleared, at every depth.

    ``Role.SOURCE`` clears ``create_required`` and ``update_required`` (a source
    only reads); ``Role.DESTINATION`` clears ``read_optional`` (a destination
    only writes). Nested objects, including those inside arrays and maps, are
    projected too. Everything else is kept.
    """
    if not isinstance(obj, m.Object):
        raise TypeError(f"as_role: expected an Object, got {type(obj).__name__}")
    role = Role(role)
    result = _project(obj, role)
    assert isinstance(result, m.Object)
    return result


def _project(t: m.Type, role: Role) -> m.Type:
    if isinstance(t, m.Array):
        return m.Array(_project(t.element, role), t.min_elements, t.max_elements, t.unique)
    if isinstance(t, m.Map):
        return m.Map(_project(t.element, role))
    if not isinstance(t, m.Object):
        return t
    source = role is Role.SOURCE
    return m.Object(
        [
            m.Property(
                p.name,
                _project(p.type, role),
                nullable=p.nullable,
                create_required=False if source else p.create_required,
                update_required=False if source else p.update_required,
                read_optional=p.read_optional if source else False,
                prefilled=p.prefilled,
                description=p.description,
            )
            for p in t.properties
        ]
    )
