"""The four sandboxes the demo runs in-process, found through the ``syncline.sandboxes`` entry points.

:class:`DemoSandboxes` holds HubSpot (the source of contacts), Klaviyo
(profiles and events), Mixpanel and Google Analytics 4 (events). Each is a
:class:`~syncline.sdk.testing.sandbox.Sandbox`: a real HTTP server on
127.0.0.1 that keeps what it accepted, so a test (or the demo's own checks)
can compare what the engine reports with what the "vendor" received.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from syncline.sdk.testing.sandbox import Sandbox

__all__ = ["CODES", "ENTRY_POINT_GROUP", "DemoSandboxes", "SandboxMissing", "sandbox_class"]

ENTRY_POINT_GROUP = "syncline.sandboxes"
CODES = ("hubspot", "klaviyo", "mixpanel", "google-analytics")
KLAVIYO_SEED = 50
"""Profiles the Klaviyo account holds before the export (none match a HubSpot email)."""


class SandboxMissing(LookupError):
    """A sandbox the demo needs is not installed or fails to load; the message says which."""


def sandbox_class(code: str) -> type[Sandbox]:
    """The sandbox class registered for connector ``code``; :class:`SandboxMissing` if none."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    entry = found.get(code)
    if entry is None:
        raise SandboxMissing(
            f"no sandbox is registered for connector {code!r} under the {ENTRY_POINT_GROUP!r} "
            "entry points; reinstall Syncline (pip install -e '.[demo]')"
        )
    try:
        loaded: Any = entry.load()
    except Exception as error:
        raise SandboxMissing(
            f"the sandbox entry point {entry.value!r} failed to load: {type(error).__name__}"
        ) from None
    if not (isinstance(loaded, type) and issubclass(loaded, Sandbox)):
        raise SandboxMissing(f"the sandbox entry point {entry.value!r} is not a Sandbox class")
    return loaded


@dataclass(frozen=True, slots=True)
class DemoSandboxes:
    """The sandboxes of one demo run, by role. Start them before use (:meth:`start`)."""

    hubspot: Sandbox
    klaviyo: Sandbox
    mixpanel: Sandbox
    ga4: Sandbox

    @classmethod
    def create(cls, contacts: int, *, seed: int = 0) -> DemoSandboxes:
        """New sandboxes with the vendors' limits on: ``contacts`` HubSpot contacts, no faults."""
        return cls(
            hubspot=sandbox_class("hubspot")(records=contacts, seed=seed),
            klaviyo=sandbox_class("klaviyo")(records=KLAVIYO_SEED, seed=seed),
            mixpanel=sandbox_class("mixpanel")(records=0, seed=seed),
            ga4=sandbox_class("google-analytics")(records=0, seed=seed),
        )

    def by_code(self) -> dict[str, Sandbox]:
        """``{connector code: sandbox}``."""
        return {
            "hubspot": self.hubspot,
            "klaviyo": self.klaviyo,
            "mixpanel": self.mixpanel,
            "google-analytics": self.ga4,
        }

    async def start(self) -> None:
        """Start every sandbox; if one cannot start, stop those already started and raise."""
        started: list[Sandbox] = []
        try:
            for sandbox in self.by_code().values():
                await sandbox.start()
                started.append(sandbox)
        except BaseException:
            for sandbox in reversed(started):
                await sandbox.stop()
            raise

    async def stop(self) -> None:
        for sandbox in self.by_code().values():
            await sandbox.stop()
