"""An ApplicationSpec checks its own fields when built, naming what to fix."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from syncline.sdk.errors import SpecError
from syncline.sdk.spec import (
    NETWORK,
    ApplicationSpec,
    AsDestination,
    AsSource,
    Constant,
    EndpointGroup,
    Exponential,
    OAuthSpec,
    RateLimit,
    RetryAfter,
    RetryPolicy,
    SendingMode,
    Timeouts,
    parse_pattern,
)


def spec(**changes: object) -> ApplicationSpec:
    fields: dict[str, object] = {
        "code": "acme",
        "label": "Acme",
        "as_source": AsSource(targets=("users",), has_settings=False),
    }
    fields.update(changes)
    return ApplicationSpec(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["Acme", "acme_crm", "-acme", "acme-", "acme--crm", "", "acmé"])
def test_invalid_code_is_refused_with_the_rule(code: str) -> None:
    with pytest.raises(SpecError, match="kebab-case"):
        spec(code=code)


@pytest.mark.parametrize("code", ["acme", "google-analytics", "s3", "a1-b2-c3"])
def test_valid_codes(code: str) -> None:
    assert spec(code=code).code == code


@pytest.mark.parametrize("rate", [0, -1, -0.5, float("nan")])
def test_non_positive_rate_is_refused(rate: float) -> None:
    with pytest.raises(SpecError, match=r"requests_per_second.*must be > 0"):
        RateLimit(requests_per_second=rate, burst=1)


def test_burst_and_concurrency_must_be_positive() -> None:
    with pytest.raises(SpecError, match="burst"):
        RateLimit(requests_per_second=1, burst=0)
    with pytest.raises(SpecError, match="max_concurrent"):
        RateLimit(requests_per_second=1, burst=1, max_concurrent=0)


def test_endpoint_group_patterns() -> None:
    with pytest.raises(SpecError, match="patterns is empty"):
        EndpointGroup(patterns=(), rate_limit=RateLimit(1, 1))
    with pytest.raises(SpecError, match="tuple of patterns"):
        EndpointGroup(patterns="/api/", rate_limit=RateLimit(1, 1))  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="not an HTTP method"):
        EndpointGroup(patterns=("FETCH /api/",), rate_limit=RateLimit(1, 1))
    with pytest.raises(SpecError, match="must start with '/'"):
        EndpointGroup(patterns=("api",), rate_limit=RateLimit(1, 1))
    assert parse_pattern("POST api.hubapi.com/crm/v3/") == ("POST", "api.hubapi.com", "/crm/v3/")
    assert parse_pattern("/") == (None, None, "/")
    group = EndpointGroup(patterns=("GET /a/", "/b"), rate_limit=RateLimit(2, 4))
    assert group.name == "GET /a/"
    assert group.retry == RetryPolicy.default()
    assert group.timeouts == Timeouts()


def test_retry_policy_keys_and_defaults() -> None:
    policy = RetryPolicy.default()
    assert isinstance(policy.strategy_for(429), RetryAfter)
    for status in (408, 500, 502, 503, 504):
        assert isinstance(policy.strategy_for(status), Exponential)
    assert policy.strategy_for(NETWORK) is not None
    assert policy.strategy_for(400) is None
    extended = policy.extend({"400 409": Constant(0.5)}, max_attempts=3)
    assert extended.strategy_for(409) == Constant(0.5)
    assert extended.strategy_for(429) == policy.strategy_for(429)
    assert extended.max_attempts == 3
    replaced = RetryPolicy(rules={503: Constant(1)})
    assert replaced.strategy_for(500) is None
    with pytest.raises(SpecError, match="neither an HTTP status code"):
        RetryPolicy(rules={"5xx": Constant(1)})
    with pytest.raises(SpecError, match="not an error status"):
        RetryPolicy(rules={200: Constant(1)})
    with pytest.raises(SpecError, match="not a strategy"):
        RetryPolicy(rules={500: 3})  # type: ignore[dict-item]
    with pytest.raises(SpecError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(SpecError, match="deadline"):
        RetryPolicy(deadline=0)


def test_roles_and_targets() -> None:
    with pytest.raises(SpecError, match="neither as_source nor as_destination"):
        spec(as_source=None)
    with pytest.raises(SpecError, match="'events' cannot be read"):
        spec(as_source=AsSource(targets=("events",)))
    with pytest.raises(SpecError, match="non-empty tuple"):
        spec(as_source=AsSource(targets=()))
    with pytest.raises(SpecError, match="target 'Users' is invalid"):
        spec(as_source=AsSource(targets=("Users",)))
    with pytest.raises(SpecError, match="repeat"):
        spec(as_source=AsSource(targets=("users", "users")))
    with pytest.raises(SpecError, match="sending_mode is NONE"):
        spec(as_destination=AsDestination(targets=("events",), sending_mode=SendingMode.NONE))
    assert spec(as_destination=AsDestination(targets=("*",))).destination_targets() == ("*",)


def test_oauth_and_groups_must_agree() -> None:
    oauth = OAuthSpec(
        auth_url="https://app.example/authorize", token_url="https://app.example/token"
    )
    with pytest.raises(SpecError, match="no endpoint group has requires_oauth"):
        spec(oauth=oauth)
    group = EndpointGroup(patterns=("/",), rate_limit=RateLimit(1, 1), requires_oauth=True)
    with pytest.raises(SpecError, match="requires OAuth but the spec has no oauth"):
        spec(endpoint_groups=(group,))
    assert spec(oauth=oauth, endpoint_groups=(group,)).oauth is oauth
    with pytest.raises(SpecError, match="token_url"):
        OAuthSpec(auth_url="https://a/", token_url="ftp://x")


def test_settings_model_must_be_pydantic() -> None:
    class NotAModel:
        pass

    with pytest.raises(SpecError, match="settings must be a pydantic BaseModel"):
        spec(settings=NotAModel)

    class Settings(BaseModel):
        token: str

    assert spec(settings=Settings).settings is Settings
