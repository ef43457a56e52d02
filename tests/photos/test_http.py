"""The shared HTTP layer: address policy, TLS policy, Retry-After, and download_file."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import os
import random
import re
import socket
import ssl
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from hotelcap_pipeline.http import (
    BlockedAddressError,
    DownloadError,
    GuardedResolver,
    SessionPolicy,
    address_allowed,
    describe_client_error,
    download_file,
    is_refused,
    local_path_of,
    open_session,
    parse_networks,
)
from hotelcap_pipeline.photos.fetch import FetchLimits, FetchOutcome, PhotoFetcher, parse_retry_after


@pytest.mark.parametrize(
    ("address", "allowed"),
    [("127.0.0.1", True), ("::1", True), ("93.184.216.34", True), ("10.0.0.5", True),
     ("169.254.169.254", False), ("fe80::1", False), ("::ffff:169.254.169.254", False),
     ("100.100.100.200", False), ("fd00:ec2::254", False), ("0.0.0.0", False)],
)
def test_link_local_and_metadata_addresses_refused_by_default(address, allowed):
    assert address_allowed(address) is allowed


def test_allowed_networks_opt_in():
    assert address_allowed("169.254.10.1", parse_networks(["169.254.0.0/16"]))
    assert not address_allowed("169.254.10.1", parse_networks(["10.0.0.0/8"]))
    assert parse_networks([ipaddress.ip_network("fe80::/10")])[0].version == 6


def test_tls_verification_disabled_only_for_listed_hosts():
    policy = SessionPolicy(insecure_hosts=("traffickcam.example",))
    assert policy.ssl_for(URL("https://TraffickCam.example/x.jpg")) is False
    assert policy.ssl_for(URL("https://images.example/x.jpg")) is True


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_local_path_of():
    assert local_path_of("file:///data/a%20b.tar.gz") == Path("/data/a b.tar.gz")
    assert local_path_of("relative/dataset.tar.gz") == Path("relative/dataset.tar.gz")
    assert local_path_of("https://example.org/x") is None
    with pytest.raises(ValueError, match="unsupported URL scheme"):
        local_path_of("ftp://example.org/x")


@pytest.fixture
def archive(photo_server, tmp_path) -> bytes:
    payload = bytes(range(256)) * 4096  # 1 MiB
    photo_server.archive = tmp_path / "served.tar.gz"
    photo_server.archive.write_bytes(payload)
    return payload


def test_download_file_streams_then_does_not_download_again(photo_server, archive, tmp_path):
    dest = tmp_path / "raw" / "dataset.tar.gz"
    assert download_file(photo_server.url("/archive.tar.gz"), dest) == dest
    assert dest.read_bytes() == archive
    download_file(photo_server.url("/archive.tar.gz"), dest)
    assert photo_server.hits["archive"] == 1
    assert sorted(p.name for p in dest.parent.iterdir()) == ["dataset.tar.gz"]


def _broken_download(photo_server, dest: Path) -> Path:
    """A download whose connection drops after 300,000 bytes; the part it leaves behind."""
    photo_server.archive_cut = 300_000
    with pytest.raises(DownloadError, match="partial data kept"):
        download_file(photo_server.url("/archive.tar.gz"), dest, attempts=1)
    part = dest.with_name(dest.name + ".part")
    assert part.stat().st_size == 300_000
    return part


def test_download_file_resumes_a_partial_download(photo_server, archive, tmp_path):
    dest = tmp_path / "dataset.tar.gz"
    _broken_download(photo_server, dest)
    download_file(photo_server.url("/archive.tar.gz"), dest)
    assert photo_server.range_headers == ["bytes=300000-"]
    assert photo_server.if_range_headers[0].startswith('"')  # the ETag of the first answer
    assert dest.read_bytes() == archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset.tar.gz", "served.tar.gz"]


def test_a_file_replaced_upstream_is_not_spliced_onto_the_old_part(photo_server, archive, tmp_path):
    dest = tmp_path / "dataset.tar.gz"
    _broken_download(photo_server, dest)
    newer = bytes(reversed(archive))  # the same length: only the validators tell the files apart
    before = photo_server.archive.stat().st_mtime_ns
    photo_server.archive.write_bytes(newer)
    os.utime(photo_server.archive, ns=(before + 10**9, before + 10**9))  # a new ETag on coarse clocks too
    download_file(photo_server.url("/archive.tar.gz"), dest, rng=random.Random(0))
    assert dest.read_bytes() == newer  # the 206 named another file: the part was dropped, then fetched whole


def test_a_complete_part_is_renamed_without_a_request(photo_server, archive, tmp_path):
    dest = tmp_path / "dataset.tar.gz"
    part = _broken_download(photo_server, dest)
    with part.open("ab") as fh:  # every byte arrived, then the process was killed before the rename
        fh.write(archive[300_000:])
    hits = photo_server.hits["archive"]
    download_file(photo_server.url("/archive.tar.gz"), dest)
    assert photo_server.hits["archive"] == hits and dest.read_bytes() == archive


def test_a_part_of_unknown_origin_starts_over(photo_server, archive, tmp_path):
    dest = tmp_path / "dataset.tar.gz"
    (tmp_path / "dataset.tar.gz.part").write_bytes(b"x" * 300_000)  # no record of what it came from
    download_file(photo_server.url("/archive.tar.gz"), dest)
    assert photo_server.range_headers == [] and dest.read_bytes() == archive


def test_download_file_error_names_the_url(photo_server, tmp_path):
    url = photo_server.url("/blob/nothing-here")
    with pytest.raises(DownloadError, match=re.escape(f"{url}: HTTP 404")):
        download_file(url, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_an_archive_sent_as_gzip_encoded_is_stored_as_sent(photo_server, tmp_path):
    payload = gzip.compress(bytes(range(256)) * 4096)
    photo_server.archive = tmp_path / "served.tar.gz"
    photo_server.archive.write_bytes(payload)
    dest = tmp_path / "raw" / "dataset.tar.gz"
    download_file(photo_server.url("/encoded/archive.tar.gz"), dest, attempts=1)
    assert dest.read_bytes() == payload


@pytest.mark.parametrize(("status", "reason"),
                         [(300, "HTTP 300"), (302, "HTTP 302 redirect without Location"), (204, "HTTP 204")])
def test_an_answer_without_the_archive_is_not_kept_as_it(photo_server, tmp_path, status, reason):
    url = photo_server.url(f"/status/{status}")
    dest = tmp_path / "dataset.tar.gz"
    with pytest.raises(DownloadError, match=re.escape(f"{url}: {reason}") + "$"):
        download_file(url, dest, attempts=2)
    assert not dest.exists()
    assert photo_server.hits[f"status:{status}"] == 1  # not retried


def test_a_malformed_redirect_location_fails_the_download_once(photo_server, tmp_path):
    url = photo_server.url("/bad-location")
    with pytest.raises(DownloadError, match=re.escape(f"{url}: invalid redirect Location 'http://[::1/x.jpg'")):
        download_file(url, tmp_path / "dataset.tar.gz", attempts=2)
    assert photo_server.hits["bad_location"] == 1


def test_download_file_copies_local_sources(tmp_path):
    source = tmp_path / "mirror" / "dataset.tar.gz"
    source.parent.mkdir()
    source.write_bytes(b"archive bytes")
    for url in (source.as_uri(), str(source)):
        dest = tmp_path / "out" / url[-6:].replace("/", "_")
        download_file(url, dest)
        assert dest.read_bytes() == b"archive bytes"
    with pytest.raises(DownloadError, match="no such file"):
        download_file(str(tmp_path / "absent.tar.gz"), tmp_path / "y")


class _FakeResolver(AbstractResolver):
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        return [ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
                for a in self.addresses]

    async def close(self) -> None:
        pass


def test_guarded_resolver_drops_blocked_addresses():
    mixed = GuardedResolver(_FakeResolver(["169.254.169.254", "93.184.216.34"]))
    assert [r["host"] for r in asyncio.run(mixed.resolve("photos.example", 80))] == ["93.184.216.34"]
    only_metadata = GuardedResolver(_FakeResolver(["169.254.169.254"]))
    with pytest.raises(BlockedAddressError, match=re.escape("refused metadata.example: resolves to 169.254.169.254")):
        asyncio.run(only_metadata.resolve("metadata.example", 80))
    allowed = GuardedResolver(_FakeResolver(["169.254.169.254"]), parse_networks(["169.254.0.0/16"]))
    assert len(asyncio.run(allowed.resolve("metadata.example", 80))) == 1


def _self_signed_server_context(folder: Path) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 whose certificate no client trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


async def _serve_over_tls(folder: Path) -> tuple[web.AppRunner, int]:
    async def photo(request: web.Request) -> web.Response:
        return web.Response(body=b"x", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/x.jpg", photo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=_self_signed_server_context(folder)).start()
    return runner, runner.addresses[0][1]


@pytest.mark.parametrize("setting", [None, "resources.settings.config.insecure_hosts"])
def test_an_untrusted_certificate_fails_at_once(tmp_path, setting):
    # The hint names where the user lists hosts: the variable, or the run config's field when set there.
    policy = SessionPolicy() if setting is None else SessionPolicy(insecure_setting=setting)

    async def fetch_over_tls() -> FetchOutcome:
        runner, port = await _serve_over_tls(tmp_path)
        try:
            async with open_session(policy) as session:
                fetcher = PhotoFetcher(session, policy, FetchLimits(retries=2, backoff_base_s=0.01))
                return await fetcher.fetch(f"https://127.0.0.1:{port}/x.jpg")
        finally:
            await runner.cleanup()

    outcome = asyncio.run(fetch_over_tls())
    named = setting or "HOTELCAP_INSECURE_HOSTS"
    assert outcome.error == f"TLS certificate not valid (list the host in {named} to accept it)"
    assert outcome.attempts == 1  # another attempt meets the same certificate


def test_an_untrusted_dataset_host_names_the_run_configs_field(tmp_path):
    from hotelcap_pipeline.metadata.source import resolve_dataset
    from hotelcap_pipeline.settings import settings_with

    origins = settings_with({"insecure_hosts": ["other.example"]}, environ={}).origins
    done = threading.Event()
    port: list[int] = []

    def serve() -> None:
        async def main() -> None:
            runner, bound = await _serve_over_tls(tmp_path)
            port.append(bound)
            while not done.is_set():
                await asyncio.sleep(0.02)
            await runner.cleanup()

        asyncio.run(main())

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        while not port:
            time.sleep(0.01)
        with pytest.raises(DownloadError) as caught:
            resolve_dataset(f"https://127.0.0.1:{port[0]}/dataset.tar.gz", tmp_path / "raw",
                            insecure_hosts=("other.example",), origins=origins)
    finally:
        done.set()
        server.join(5)
    assert "list the host in resources.settings.config.insecure_hosts to accept it" in str(caught.value)


def test_a_proxy_error_is_the_proxys_and_is_retried():
    from hotelcap_pipeline.http import as_retry_failure
    from hotelcap_pipeline.retry import Retryable

    error = aiohttp.ClientHttpProxyError(None, (), status=502, message="Bad Gateway")  # type: ignore[arg-type]
    assert describe_client_error(error) == "proxy answered HTTP 502"
    assert isinstance(as_retry_failure(error), Retryable)


def test_refusal_through_a_connector_is_not_retried():
    error = aiohttp.ClientConnectorDNSError(None, BlockedAddressError("refused x: resolves to 169.254.1.1"))
    assert is_refused(error)
    assert describe_client_error(error) == "refused x: resolves to 169.254.1.1"
    assert not is_refused(aiohttp.ClientConnectorError(None, ConnectionRefusedError("no")))
