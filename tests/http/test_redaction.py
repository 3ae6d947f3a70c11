"""Redaction of headers, URLs, bodies and free text."""

from __future__ import annotations

import gzip

import httpx
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from syncline.http.redact import REDACTED, Redactor, redact

SECRET = "s3cr3t-Value+/="


def test_headers_keep_scheme_word() -> None:
    r = Redactor()
    assert r.header("Authorization", "Bearer abc.def") == "Bearer [REDACTED]"
    assert r.header("authorization", "Basic dXNlcjpwYXNz") == "Basic [REDACTED]"
    assert r.header("Authorization", "abc") == REDACTED
    assert r.header("Proxy-Authorization", "Basic xyz") == "Basic [REDACTED]"
    assert r.header("Cookie", "session=abc") == REDACTED
    assert r.header("X-Api-Key", "abc") == REDACTED
    assert r.header("X-Auth-Token", "abc") == REDACTED
    assert r.header("Idempotency-Key", "k-1") == "k-1"
    assert r.header("Content-Type", "application/json") == "application/json"


def test_header_containing_a_secret_value() -> None:
    r = Redactor([SECRET])
    assert r.header("X-Custom", f"token={SECRET};x=1") == "token=[REDACTED];x=1"


def test_url_query_by_name_by_spec_field_and_by_value() -> None:
    r = Redactor([SECRET], secret_fields=["portalSecret"])
    url = httpx.URL(
        "https://api.example.com/v1/items",
        params={
            "api_key": "k1",
            "ACCESS_TOKEN": "t1",
            "portalSecret": "p1",
            "other": SECRET,
            "page": "2",
        },
    )
    text = r.url(url)
    assert "k1" not in text and "t1" not in text and "p1" not in text
    assert "s3cr3t" not in text
    assert "page=2" in text
    assert text.count(REDACTED) == 4


def test_url_password_and_path_secret() -> None:
    r = Redactor([SECRET])
    text = r.url(httpx.URL(f"https://user:pw@api.example.com/bot{SECRET}/send"))
    assert "pw" not in text and "s3cr3t" not in text
    assert text.startswith("https://user:[REDACTED]@api.example.com/bot")


def test_json_body_fields_at_any_depth_and_values() -> None:
    r = Redactor([SECRET], secret_fields=["token"])
    body = orjson.dumps(
        {
            "token": "mixpanel-token",
            "events": [{"properties": {"token": "x", "note": f"has {SECRET}"}}],
            "client_secret": "cs",
            "name": "Ada",
        }
    )
    out = orjson.loads(r.body(body, "application/json; charset=utf-8"))
    assert out["token"] == REDACTED
    assert out["events"][0]["properties"]["token"] == REDACTED
    assert out["events"][0]["properties"]["note"] == f"has {REDACTED}"
    assert out["client_secret"] == REDACTED
    assert out["name"] == "Ada"


def test_form_and_raw_bodies() -> None:
    r = Redactor([SECRET])
    form = r.body(
        b"grant_type=refresh_token&refresh_token=rt&client_secret=cs&x=1",
        "application/x-www-form-urlencoded",
    )
    assert form == b"grant_type=refresh_token&refresh_token=[REDACTED]&client_secret=[REDACTED]&x=1"
    raw = r.body(f"line with {SECRET} inside".encode(), "text/plain")
    assert raw == b"line with [REDACTED] inside"
    assert r.body(b"{broken " + SECRET.encode(), "application/json") == b"{broken [REDACTED]"


def test_request_copy_gzip_and_original_untouched() -> None:
    body = gzip.compress(orjson.dumps({"api_key": "k", "v": 1}))
    request = httpx.Request(
        "POST",
        "https://api.example.com/track?token=abc",
        headers={
            "Authorization": "Bearer abc",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
        content=body,
    )
    copy = redact(request)
    assert copy.headers["authorization"] == "Bearer [REDACTED]"
    assert "content-encoding" not in copy.headers
    assert orjson.loads(copy.content) == {"api_key": REDACTED, "v": 1}
    assert str(copy.url) == "https://api.example.com/track?token=[REDACTED]"
    assert copy.headers["content-length"] == str(len(copy.content))
    assert request.headers["authorization"] == "Bearer abc" and request.content == body


def test_streaming_body_is_not_consumed() -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b"data"

    request = httpx.Request("PUT", "https://api.example.com/upload", content=chunks())
    assert redact(request).content == b""


def test_describe() -> None:
    r = Redactor([SECRET])
    request = httpx.Request("GET", f"https://api.example.com/x?key={SECRET}&q=1")
    assert r.describe(request) == "GET https://api.example.com/x?key=[REDACTED]&q=1"


@settings(max_examples=60, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s and s),
    prefix=st.text(max_size=10),
)
def test_no_secret_survives_in_text_url_or_body(secret: str, prefix: str) -> None:
    def clean(text: str) -> bool:
        return all(secret not in piece for piece in text.split(REDACTED))

    r = Redactor([secret])
    assert clean(r.text(prefix + secret + prefix))
    url = httpx.URL("https://api.example.com/x", params={"q": prefix + secret})
    assert clean(str(httpx.URL(r.url(url)).params.get("q", "")))
    body = orjson.dumps({"a": [prefix + secret]})
    assert clean(orjson.loads(r.body(body, "application/json"))["a"][0])
