"""Event ingestion: a Segment-compatible tracking API that acks only durable events.

* :class:`Collector` — the ASGI application and its state (:mod:`.app`);
* :class:`CollectorSettings` — limits (:mod:`.settings`);
* :func:`serve`, :class:`Service`, :func:`bind` — one serving process with
  background services (:mod:`.server`).

Accepted events go to the store's event log (:mod:`syncline.store.event_log`)
through a group commit (:mod:`.commit`).
"""

from syncline.collect.app import Collector
from syncline.collect.server import Service, bind, serve
from syncline.collect.settings import CollectorSettings

__all__ = ["Collector", "CollectorSettings", "Service", "bind", "serve"]
