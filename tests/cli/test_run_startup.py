"""The fixed start-up cost of ``syncline run``: what start-up does not do any more."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (the collector settings are process-wide)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("tune", ["tune_gc_for_runs()", "tune_gc_for_delivery()"])
def test_tuning_freezes_start_up_without_a_full_collection(tune: str) -> None:
    # A full collection walks every object alive at start-up (about 25 ms of a
    # run); the freeze alone moves them out of the collector's way.
    out = _python(
        "import gc\n"
        "from syncline.engine.tuning import tune_gc_for_delivery, tune_gc_for_runs\n"
        "gc.disable()\n"
        "alive = [[i] for i in range(10_000)]\n"
        "full = gc.get_stats()[2]['collections']\n"
        f"{tune}\n"
        "print(gc.get_stats()[2]['collections'] - full, gc.get_freeze_count() >= 10_000,"
        " gc.get_threshold()[0])\n"
    )
    full_collections, frozen, first = out.split()
    assert full_collections == "0"
    assert frozen == "True"
    assert first == ("10000" if "runs" in tune else "20000")
