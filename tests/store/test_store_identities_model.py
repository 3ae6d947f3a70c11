"""Property test: the identity map behaves like a simple in-memory model."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.store import Workspace, open_store

VALUES = st.sampled_from([f"v{i}@x.io" for i in range(6)])
RECORDS = st.sampled_from([f"r{i}" for i in range(6)])
BATCHES = st.lists(st.lists(st.tuples(VALUES, RECORDS), max_size=6), min_size=1, max_size=5)


def _apply(model: dict[str, str], batch: list[tuple[str, str]]) -> None:
    for value, record in batch:
        for old in [v for v, r in model.items() if r == record]:
            del model[old]
        model[value] = record


def test_identity_map_matches_model(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    workspace = Workspace(tmp_path / "home")
    store = loop.run_until_complete(open_store(workspace=workspace))
    try:
        destination = loop.run_until_complete(
            store.connections.save("dst", connector="klaviyo", roles=["destination"])
        )
        pipeline = loop.run_until_complete(
            store.pipelines.save(
                "p", kind="export", target="users", destination_connection_id=destination.id
            )
        )

        @settings(max_examples=40, deadline=None)
        @given(BATCHES)
        def check(batches: list[list[tuple[str, str]]]) -> None:
            loop.run_until_complete(store.identities.clear(pipeline.id))
            model: dict[str, str] = {}
            for batch in batches:
                loop.run_until_complete(store.identities.upsert(pipeline.id, batch))
                _apply(model, batch)
            every_value = [f"v{i}@x.io" for i in range(6)]
            found = loop.run_until_complete(store.identities.lookup(pipeline.id, every_value))
            assert found == model
            # One value per record, always.
            assert len(set(found.values())) == len(found)

        check()
    finally:
        loop.run_until_complete(store.close())
        loop.close()
