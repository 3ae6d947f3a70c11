"""The demo's project file: connections to the sandboxes, one event source, six pipelines.

:func:`write_project` writes ``syncline.yml`` into the workspace and returns
the environment it references (every secret is a ``${VAR}``, as ``syncline
apply`` requires); the demo then applies it with the same code ``syncline
apply`` runs, so the workspace ends up exactly as if a user had applied the
file. The file stays in the workspace for the user to read.

Pipelines (names are used by the summary and the tests):

===========================  ======  =================================================
``contacts-from-hubspot``    import  HubSpot contacts → SQLite table ``contacts``
``customers-to-klaviyo``     export  newsletter customers in ``contacts`` → Klaviyo profiles
``events-to-mixpanel``       events  every track event → Mixpanel
``events-to-klaviyo``        events  every track event → Klaviyo
``purchases-to-ga4``         events  ``Order Completed`` → GA4 ``purchase``
``signups-to-ga4``           events  ``Signed Up`` → GA4 ``sign_up``
===========================  ======  =================================================
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "EVENT_PIPELINES",
    "EXPORT_FILTER",
    "EXPORT_PIPELINE",
    "IMPORT_PIPELINE",
    "DemoProject",
    "write_project",
]

IMPORT_PIPELINE = "contacts-from-hubspot"
EXPORT_PIPELINE = "customers-to-klaviyo"
EVENT_PIPELINES = ("events-to-mixpanel", "events-to-klaviyo", "purchases-to-ga4", "signups-to-ga4")
EXPORT_FILTER = "lifecyclestage = 'customer' and newsletter = true"
"""Which imported contacts go to Klaviyo.

Klaviyo creates one profile per request at 700 requests per minute (its
published limit, which the connector's endpoint group keeps to), so exporting
every contact of a large import would take minutes; the demo exports the
segment a marketing team would: customers who subscribed to the newsletter
(about one contact in eight).
"""


@dataclass(frozen=True, slots=True)
class DemoProject:
    """The written project file, the variables it references, and the write key."""

    path: Path
    environ: dict[str, str]
    write_key: str
    warehouse: Path


def write_project(home: Path, settings: Mapping[str, Mapping[str, Any]]) -> DemoProject:
    """Write ``home/syncline.yml`` for sandboxes whose settings are ``settings`` by connector code.

    ``settings`` maps ``hubspot``, ``klaviyo``, ``mixpanel`` and
    ``google-analytics`` to the connection settings each sandbox accepts
    (``Sandbox.settings()``). Secret settings go to the returned ``environ``
    under ``SYNCLINE_DEMO_*`` names; the event source's write key is a fresh
    random one.
    """
    environ: dict[str, str] = {}

    def secret(name: str, value: Any) -> str:
        environ[name] = str(value)
        return "${" + name + "}"

    hub, klav = settings["hubspot"], settings["klaviyo"]
    mix, ga4 = settings["mixpanel"], settings["google-analytics"]
    write_key = secrets.token_urlsafe(24)
    warehouse = home / "warehouse.db"
    document: dict[str, Any] = {
        "version": 1,
        "connections": {
            "hubspot": {
                "connector": "hubspot",
                "roles": ["source"],
                "settings": {
                    "access_token": secret("SYNCLINE_DEMO_HUBSPOT_TOKEN", hub["access_token"]),
                    "base_url": hub["base_url"],
                },
            },
            "warehouse": {"connector": "sqlite", "settings": {"path": str(warehouse)}},
            "klaviyo": {
                "connector": "klaviyo",
                "roles": ["destination"],
                "settings": {
                    "api_key": secret("SYNCLINE_DEMO_KLAVIYO_KEY", klav["api_key"]),
                    "base_url": klav["base_url"],
                },
            },
            "mixpanel": {
                "connector": "mixpanel",
                "settings": {
                    "project_token": secret("SYNCLINE_DEMO_MIXPANEL_TOKEN", mix["project_token"]),
                    "base_url": mix["base_url"],
                },
            },
            "ga4": {
                "connector": "google-analytics",
                "settings": {
                    "measurement_id": ga4["measurement_id"],
                    "api_secret": secret("SYNCLINE_DEMO_GA4_SECRET", ga4["api_secret"]),
                    "base_url": ga4["base_url"],
                },
            },
        },
        "event_sources": {"website": {"write_key": secret("SYNCLINE_DEMO_WRITE_KEY", write_key)}},
        "pipelines": _pipelines(),
    }
    path = home / "syncline.yml"
    header = (
        "# Written by `syncline demo`. Secrets are ${VARIABLES}, as `syncline apply` requires.\n"
    )
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    path.write_text(header + body, encoding="utf-8")
    return DemoProject(path, environ, write_key, warehouse)


def _pipelines() -> dict[str, Any]:
    return {
        IMPORT_PIPELINE: {
            "kind": "import",
            "source": "hubspot",
            "target": "users",
            "destination": {
                "connection": "warehouse",
                "options": {"table": "contacts", "key": "id", "create_table": True},
            },
        },
        EXPORT_PIPELINE: {
            "kind": "export",
            "source": {
                "connection": "warehouse",
                "options": {"table": "contacts", "key": "id", "updated_at": "lastmodifieddate"},
            },
            "target": "users",
            "destination": "klaviyo",
            "filter": EXPORT_FILTER,
            "mapping": {
                "email": "lower(email)",
                "first_name": "firstname",
                "last_name": "lastname",
                "phone_number": "phone",
            },
            "matching": "email",
        },
        "events-to-mixpanel": {"kind": "events", "destination": "mixpanel", "event_type": "track"},
        "events-to-klaviyo": {"kind": "events", "destination": "klaviyo", "event_type": "track"},
        "purchases-to-ga4": {
            "kind": "events",
            "destination": "ga4",
            "event_type": "purchase",
            "mapping": {"items": "properties.items"},
        },
        "signups-to-ga4": {"kind": "events", "destination": "ga4", "event_type": "sign_up"},
    }
