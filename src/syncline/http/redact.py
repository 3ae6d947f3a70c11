"""Redaction: one code path that removes credentials from requests and text.

Previews (``client.preview``), log records and error messages all go through a
:class:`Redactor`, so what a user sees anywhere is redacted the same way. A
credential is replaced by ``[REDACTED]``; in ``Authorization``-style headers the
scheme word stays (``Bearer [REDACTED]``, ``Basic [REDACTED]``).

What counts as a credential:

* headers ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``,
  and any header whose name looks like one (``X-Api-Key``, ``X-Auth-Token``,
  ``X-Client-Secret``, ``Api-Key`` …), whatever its value;
* query parameters named in :data:`SECRET_QUERY_NAMES` or in the spec's
  ``secret_fields`` (names compare case-insensitively);
* body fields (JSON at any depth, or form-encoded) named in
  :data:`SECRET_BODY_NAMES` or in the spec's ``secret_fields``;
* a URL's password (``https://user:secret@host``);
* anywhere — header values, path, query, body, free text — every occurrence of a
  secret value (``secret_values(settings)``, OAuth tokens), in plain or
  percent-encoded form.

A gzip-compressed body is decompressed for redaction; the redacted copy is not
compressed again and has no ``Content-Encoding`` header, so a preview is
readable. A streaming body cannot be read without consuming it: the redacted
copy has an empty body.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote_plus, urlencode

import httpx
import orjson

__all__ = ["REDACTED", "SECRET_BODY_NAMES", "SECRET_QUERY_NAMES", "Redactor", "redact"]

REDACTED = "[REDACTED]"

SECRET_QUERY_NAMES = frozenset(
    {
        "access_token",
        "api-key",
        "api_key",
        "apikey",
        "auth",
        "auth_token",
        "client_secret",
        "code",
        "code_verifier",
        "hapikey",
        "id_token",
        "key",
        "passwd",
        "password",
        "private_token",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
    }
)
"""Query parameter names always redacted."""

SECRET_BODY_NAMES = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_assertion",
        "client_secret",
        "code_verifier",
        "id_token",
        "passwd",
        "password",
        "refresh_token",
    }
)
"""Body field names always redacted (record data rarely uses them for anything else)."""

_SECRET_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie)$"
    r"|api[-_]?key|auth[-_]?token|access[-_]?token|secret|password|passwd|session",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*) +\S")
_DROP_IN_COPY = frozenset({"content-length", "content-encoding", "transfer-encoding"})


class Redactor:
    """Replaces credentials by ``[REDACTED]``; see the module docstring for what counts.

    ``secrets`` are literal secret values (empty strings are ignored);
    ``secret_fields`` are extra query/body field names (the spec's
    ``secret_fields``). A Redactor is immutable and cheap to keep; build a new
    one when the secrets change (:meth:`with_secrets`).
    """

    __slots__ = ("_body_names", "_bytes_re", "_fields", "_query_names", "_secrets", "_text_re")

    def __init__(self, secrets: Iterable[str] = (), secret_fields: Iterable[str] = ()) -> None:
        self._fields = frozenset(name.lower() for name in secret_fields)
        self._query_names = SECRET_QUERY_NAMES | self._fields
        self._body_names = SECRET_BODY_NAMES | self._fields
        self._secrets = frozenset(s for s in secrets if s)
        forms: set[str] = set()
        for secret in self._secrets:
            forms.update({secret, quote(secret, safe=""), quote_plus(secret, safe="")})
        # Longest first, so a secret containing another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._text_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes_re = (
            re.compile(b"|".join(re.escape(f.encode()) for f in ordered)) if ordered else None
        )

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """A Redactor with the same field names and these secret values."""
        return Redactor(secrets, self._fields)

    # -- pieces ----------------------------------------------------------------

    def text(self, text: str) -> str:
        """``text`` with every secret value (plain or percent-encoded) replaced."""
        if self._text_re is None:
            return text
        return self._text_re.sub(REDACTED, text)

    def header(self, name: str, value: str) -> str:
        """The redacted value of header ``name``."""
        if _SECRET_HEADER.search(name):
            scheme = _SCHEME.match(value)
            return f"{scheme.group(1)} {REDACTED}" if scheme else REDACTED
        return self.text(value)

    def url(self, url: httpx.URL | str) -> str:
        """The URL as text with its password, secret query values and secret values replaced."""
        url = httpx.URL(url) if isinstance(url, str) else url
        netloc = url.netloc.decode("ascii")
        if url.userinfo:
            user = url.userinfo.decode("ascii").partition(":")[0]
            netloc = f"{self.text(user)}:{REDACTED}@{netloc}"
        out = f"{url.scheme}://{netloc}{self.text(url.raw_path.split(b'?', 1)[0].decode('ascii'))}"
        query = url.query.decode("ascii")
        if query:
            out += "?" + self._query(query)
        return out

    def _query(self, query: str) -> str:
        parts = []
        for pair in query.split("&"):
            raw_name, eq, raw_value = pair.partition("=")
            name = unquote_plus(raw_name)
            if name.lower() in self._query_names or (
                self._text_re is not None and self._text_re.search(unquote_plus(raw_value))
            ):
                parts.append(f"{self.text(raw_name)}={REDACTED}")
            else:
                parts.append(self.text(raw_name) + eq + self.text(raw_value))
        return "&".join(parts)

    def body(self, content: bytes, content_type: str | None) -> bytes:
        """The body with secret fields and secret values replaced.

        JSON bodies are re-encoded compactly; form bodies are re-encoded; other
        bodies have secret values replaced byte for byte.
        """
        if not content:
            return content
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            try:
                value = orjson.loads(content)
            except orjson.JSONDecodeError:
                return self._bytes(content)
            return orjson.dumps(self._json(value))
        if kind == "application/x-www-form-urlencoded":
            try:
                pairs = parse_qsl(content.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return self._bytes(content)
            redacted = [
                (
                    self.text(name),
                    REDACTED if name.lower() in self._body_names else self.text(value),
                )
                for name, value in pairs
            ]
            return urlencode(redacted, safe="[]").encode("ascii")
        return self._bytes(content)

    def _bytes(self, content: bytes) -> bytes:
        if self._bytes_re is None:
            return content
        return self._bytes_re.sub(REDACTED.encode(), content)

    def _json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                self.text(k): REDACTED if k.lower() in self._body_names else self._json(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._json(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    # -- whole requests ----------------------------------------------------------

    def request(self, request: httpx.Request) -> httpx.Request:
        """A redacted copy of ``request`` (the original is not changed or consumed).

        This is the one redaction path: previews return it, and logs and errors
        describe requests with :meth:`describe`, which uses the same URL rules.
        """
        headers = [
            (name, self.header(name, value))
            for name, value in request.headers.multi_items()
            if name.lower() not in _DROP_IN_COPY
        ]
        content = b""
        if isinstance(request.stream, httpx.ByteStream):
            content = request.content
            encoding = request.headers.get("content-encoding", "").lower()
            if encoding in ("gzip", "x-gzip"):
                content = gzip.decompress(content)
            elif encoding == "deflate":
                content = zlib.decompress(content)
            content = self.body(content, request.headers.get("content-type"))
        copy = httpx.Request(
            request.method, self.url(request.url), headers=headers, content=content
        )
        copy.extensions = dict(request.extensions)
        return copy

    def describe(self, request: httpx.Request) -> str:
        """``METHOD redacted-url``: how logs and errors name a request."""
        return f"{request.method} {self.url(request.url)}"


def redact(
    request: httpx.Request, *, secrets: Iterable[str] = (), secret_fields: Iterable[str] = ()
) -> httpx.Request:
    """A redacted copy of ``request``; shorthand for ``Redactor(secrets, secret_fields).request``."""
    return Redactor(secrets, secret_fields).request(request)
