"""The connector acceptance suite: one pytest base class any connector runs against its sandbox.

A connector's whole acceptance test::

    class TestAcmeAcceptance(ConnectorAcceptance):
        connector = AcmeCRM
        sandbox = AcmeSandbox

        def upsert_cases(self, target): return UpsertCases(...)   # destinations of records
        def event_cases(self): return EventCases(...)             # destinations of events

Each check is its own test method; a check that does not apply to the spec's
capabilities is skipped, saying so. A failure names the contract rule the
connector broke and what to do. Every test starts a fresh sandbox (``records``
items, rate limits off except in the rate-limit check) and fresh connector
instances on real managed clients, inside its own event loop, so the suite
needs no pytest plugin.

To adapt a check to an app's real semantics, override its test method and
say why in the docstring; ``self.run(scenario)`` runs ``async def
scenario(h: Harness)`` against a fresh sandbox (``h.connect()``,
``h.read_all()``, ``h.drive()``, ``h.sandbox``).

Deviation from the kit API as first agreed: the suite also uses
:meth:`Sandbox.ids` and :meth:`Sandbox.updated_at_of` (defaults from
``Sandbox.collections``) to compare reads with the sandbox's data.
"""

from __future__ import annotations

import asyncio

import pytest

from syncline.sdk.errors import ConnectorError
from syncline.sdk.registry import check_class
from syncline.sdk.testing.sandbox import Fault
from syncline.testing._acceptance.cases import (
    EventCases,
    UpsertCases,
    chain,
)
from syncline.testing._acceptance.harness import (
    Harness,
    LogCapture,
)
from syncline.testing._acceptance.reading import ReadChecks
from syncline.testing._acceptance.writing import EventChecks, UpsertChecks

__all__ = ["ConnectorAcceptance", "EventCases", "Harness", "UpsertCases"]


class ConnectorAcceptance(ReadChecks, UpsertChecks, EventChecks):
    """Base class of a connector's acceptance test; set ``connector`` and ``sandbox``.

    Class attributes to tune: ``records`` (data set size, above one page),
    ``touched``, ``rate_limit_requests``, ``fault_seconds``; hooks:
    ``upsert_cases(target)`` and ``event_cases()``.
    """

    # -- spec and check ----------------------------------------------------------

    def test_spec_matches_class(self) -> None:
        """Rule: the spec and the class agree, and the sandbox fakes this connector."""
        harness = Harness(self.connector, self._sandbox())
        check_class(harness.spec, self.connector)
        assert self.sandbox.code == harness.spec.code, (
            f"{self.sandbox.__name__}.code is {self.sandbox.code!r} but the connector's spec "
            f"code is {harness.spec.code!r}: a sandbox fakes exactly one connector"
        )

    def test_check_accepts_good_settings(self) -> None:
        """Rule: check() returns no problem for settings that work."""

        async def scenario(h: Harness) -> None:
            self._require(h, "check")
            connector, _ = await h.connect()
            problems = await connector.check()
            assert problems == [], (
                f"check() found problems with the sandbox's working settings: {problems}; "
                "check() must return [] when the credentials work"
            )

        self.run(scenario)

    def test_check_reports_bad_settings(self) -> None:
        """Rule: check() reports bad credentials as problems, never by raising."""

        async def scenario(h: Harness) -> None:
            self._require(h, "check")
            connector, _ = await h.connect(bad=True)
            try:
                problems = await connector.check()
            except Exception as error:
                pytest.fail(
                    f"check() raised {type(error).__name__} for settings the app refuses: "
                    "return [Problem(message, field=...)] instead of raising"
                )
            assert problems, (
                "check() returned no problem for settings the app refuses "
                "(Sandbox.bad_settings()): call the app and report the refusal"
            )

        self.run(scenario)

    # -- limits, faults and secrets --------------------------------------------------------

    def test_rate_limits_respected(self) -> None:
        """Rule: with the vendor's limits on, the spec's endpoint groups keep every request under them."""

        async def scenario(h: Harness) -> None:
            operation = await self._one_operation(h)
            await asyncio.gather(
                *(operation() for _ in range(self.rate_limit_requests)), return_exceptions=True
            )
            refused = [r for r in h.sandbox.received() if r.status == 429]
            assert not refused, (
                f"{len(refused)} of {len(h.sandbox.received())} requests got 429 from the "
                f"sandbox enforcing {h.spec.code}'s published limits: declare each endpoint "
                "group's RateLimit at or a little under the vendor's limit"
            )

        self.run(scenario, limits=True)

    @pytest.mark.parametrize("mode", ["5xx-burst", "reset", "truncate", "429-storm"])
    def test_faults_surface_as_typed_errors(self, mode: str) -> None:
        """Rule: under faults an operation succeeds or raises a typed error, never a raw one."""

        async def scenario(h: Harness) -> None:
            operation = await self._one_operation(h)
            fault = (
                Fault(mode, share=1.0, seconds=self.fault_seconds)
                if mode == "429-storm"
                else Fault(mode, share=0.5)
            )
            h.sandbox.set_faults(fault)
            try:
                await operation()
            except ConnectorError:
                pass
            except Exception as error:
                pytest.fail(
                    f"under the {mode!r} fault the connector raised {type(error).__name__}: "
                    f"{error}; let the managed client's typed errors through and turn "
                    "malformed answers into PermanentError/RetryableError"
                )

        self.run(scenario)

    def test_no_secret_in_logs_or_errors(self) -> None:
        """Rule: no credential appears in a log record, an error or a problem message."""

        async def scenario(h: Harness) -> None:
            secrets = h.secrets()
            if not secrets:
                pytest.skip("the settings hold no secret")
            texts: list[tuple[str, str]] = []
            with LogCapture() as logs:
                for bad in (True, False):
                    connector, client = await h.connect(bad=bad)
                    which = "bad" if bad else "good"
                    if h.entry.can("check"):
                        try:
                            for problem in await connector.check():
                                texts.append(
                                    (f"a check() problem ({which} settings)", str(problem))
                                )
                        except Exception as error:
                            texts.append((f"check() ({which} settings)", chain(error)))
                    try:
                        operation = await self._one_operation(h, connector)
                        await operation()
                    except Exception as error:
                        texts.append((f"an error ({which} settings)", chain(error)))
                texts += await self._item_errors(h, connector, client)
            texts += [("a log record", line) for line in logs.lines]
            for name, secret in secrets.items():
                for where, text in texts:
                    assert secret not in text, (
                        f"the value of secret setting {name!r} appeared in {where}: never put "
                        "credentials in errors, problems or logs (errors of env.http are "
                        "already redacted; describe the failure, not the key)"
                    )

        self.run(scenario)
