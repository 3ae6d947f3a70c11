"""The acceptance cases of Acme CRM, shared by the reference and the broken connectors."""

from __future__ import annotations

from syncline.testing.acceptance import EventCases, UpsertCases


def upsert_cases(target: str) -> UpsertCases:
    return UpsertCases(
        creates=[{"email": "new1@example.com", "plan": "pro"}, {"email": "new2@example.com"}],
        updates=[("1001", {"email": "user1@example.com", "first_name": "One"})],
        invalid=[
            ({"email": "not-an-address"}, "email"),
            (("1002", {"email": "x@example.com", "plan": "gold"}), "plan"),
        ],
    )


def event_cases() -> EventCases:
    return EventCases(
        send=[
            {"type": "track", "event": "Signed Up", "userId": "u1", "properties": {"plan": "pro"}},
            {"type": "track", "event": "Upgraded", "userId": "u2"},
        ],
        discard=[
            {
                "type": "track",
                "event": "E" * 80,
                "userId": "u3",
                "properties": {"note": "discarded-marker-1"},
            }
        ],
        reject=[{"type": "track", "event": "$reserved", "userId": "u4"}],
        oversized={
            "type": "track",
            "event": "Huge",
            "userId": "u5",
            "properties": {"blob": "x" * 70_000},
        },
    )
