"""The https:// pool: built on the first https:// request, verifying exactly as before.

A real TLS server on 127.0.0.1 with a certificate from a throwaway CA: trusted
when ``SSL_CERT_FILE`` names that CA (httpx's ``trust_env`` rule), refused
otherwise (certifi's bundle does not hold it), also when the same client sent
plain http:// requests first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from http_fixtures import count_ca_loads, fast_group, make_spec

from syncline.http import Client
from syncline.sdk.errors import RetryableError
from syncline.sdk.testing.server import FaultServer


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer if issuer is not None else (name, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


class TlsServer:
    """Answers every request on one TLS connection with ``200 ok`` and closes it."""

    def __init__(self, directory: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("syncline test CA", ca_key, None)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate("127.0.0.1", key, (ca.subject, ca_key))
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        chain = directory / "server.pem"
        chain.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(chain)
        self._server: asyncio.Server | None = None
        self.url = ""

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client refused the certificate: nothing to answer
        finally:
            writer.close()

    async def __aenter__(self) -> TlsServer:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0, ssl=self._context)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    async with TlsServer(tmp_path) as running:
        yield running


def _spec() -> Any:
    return make_spec(fast_group(max_attempts=1))


async def test_https_after_http_verifies_against_the_configured_ca(
    tls_server: TlsServer, server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))
    loads = count_ca_loads(monkeypatch)
    server.route("GET", "/x", lambda r: {})
    async with Client(_spec()) as client:
        await client.request("GET", f"{server.url}/x")
        assert loads == []
        response = await client.request("GET", f"{tls_server.url}/x")
        assert response.content == b"ok"
        # The CA bundle of SSL_CERT_FILE, loaded once, on the first https:// request.
        assert len(loads) == 1 and str(tls_server.ca_file) in repr(loads[0])
        await client.request("GET", f"{tls_server.url}/x")
        await client.request("GET", f"{server.url}/x")
        assert len(loads) == 1


@pytest.mark.parametrize("http_first", [True, False])
async def test_a_certificate_from_an_untrusted_ca_is_refused(
    tls_server: TlsServer,
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    http_first: bool,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    server.route("GET", "/x", lambda r: {})
    async with Client(_spec()) as client:
        if http_first:
            await client.request("GET", f"{server.url}/x")
        with pytest.raises(RetryableError, match="ConnectError"):
            await client.request("GET", f"{tls_server.url}/x")
    # The same server, the same requests, its CA trusted: answered. So what was
    # refused above is the certificate, and nothing else.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca_file))
    async with Client(_spec()) as client:
        if http_first:
            await client.request("GET", f"{server.url}/x")
        assert (await client.request("GET", f"{tls_server.url}/x")).content == b"ok"
