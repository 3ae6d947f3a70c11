"""``syncline demo``: the whole product in one command, on local sandboxes.

* :func:`run_demo` — import HubSpot contacts into SQLite, export a segment to
  Klaviyo, send a burst of events with the Segment client library through the
  collector to Mixpanel, Klaviyo and GA4, and return a :class:`DemoSummary`
  read from the store and the sandboxes (:mod:`.run`);
* :class:`DemoOptions` — sizes and timings; :class:`DemoSandboxes` — the four
  sandboxes, which a test may start itself and pass in to inspect afterwards.

See ``docs/demo.md``.
"""

from syncline.demo.run import DemoError, DemoOptions, run_demo
from syncline.demo.sandboxes import DemoSandboxes, SandboxMissing
from syncline.demo.summary import Check, DemoSummary

__all__ = [
    "Check",
    "DemoError",
    "DemoOptions",
    "DemoSandboxes",
    "DemoSummary",
    "SandboxMissing",
    "run_demo",
]
