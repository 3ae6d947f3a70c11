"""Event delivery: event pipelines, routing from the event log, one sender per destination.

* :class:`DeliveryService` — the background service (``async start()/stop()``)
  that ``syncline serve`` and ``syncline events deliver`` run;
* :class:`DeliverySettings` — batching, retry window, polling;
* :func:`preview_event`, :func:`replay_dead_letters` — the CLI's operations.

See ``docs/events.md`` for the guarantees (at-least-once, per-user
order, dead letters and replay).
"""

from syncline.engine.delivery.operations import PreviewResult, preview_event, replay_dead_letters
from syncline.engine.delivery.pipelines import EventPipeline, compile_pipeline, user_key
from syncline.engine.delivery.router import Router
from syncline.engine.delivery.sender import Sender, describe_request
from syncline.engine.delivery.service import DeliveryService
from syncline.engine.delivery.settings import DeliverySettings

__all__ = [
    "DeliveryService",
    "DeliverySettings",
    "EventPipeline",
    "PreviewResult",
    "Router",
    "Sender",
    "compile_pipeline",
    "describe_request",
    "preview_event",
    "replay_dead_letters",
    "user_key",
]
