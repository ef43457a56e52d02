"""The shared HTTP layer: one session policy for photo downloads and archive downloads.

Policy: TLS verified except for hosts named in ``HOTELCAP_INSECURE_HOSTS``;
a per-host connection limit with connection reuse and a DNS cache; redirects followed by the
callers one hop at a time (so every hop is checked and loops are named); and addresses that are
link-local or cloud-metadata endpoints refused unless a network is explicitly allowed.
Loopback stays allowed because the demo and the tests serve from 127.0.0.1. Retries follow the one
policy of :mod:`hotelcap_pipeline.retry`.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import json
import logging
import os
import random
import socket
import stat
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from hotelcap_pipeline.atomic_files import atomic_path
from hotelcap_pipeline.retry import RetriesExhausted, Retryable, RetryPolicy, retry_async, status_retry
from hotelcap_pipeline.settings import ENV_VARS

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Link-local ranges carry the cloud metadata services (169.254.169.254, fd00:ec2::254 is in fc00::/7 but
# named explicitly below); 100.100.100.200 is Alibaba's metadata address.
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "100.100.100.200/32", "fd00:ec2::254/128", "0.0.0.0/8")
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "hotelcap/0.1 (+https://github.com/GWUvision/Hotels-50K photo mirror)"
CHUNK_BYTES = 1 << 16
# Asked of every server: photos and archives are compressed already, and an uncompressed body is one whose
# size on the wire is its size in memory.
IDENTITY_ENCODING = {"Accept-Encoding": "identity"}
INSECURE_HOSTS_VARIABLE = ENV_VARS["insecure_hosts"]


class BlockedAddressError(OSError):
    """The host resolves only to addresses this session refuses to contact."""


def parse_networks(networks: Sequence[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    return tuple(n if not isinstance(n, str) else ipaddress.ip_network(n, strict=False) for n in networks)


@functools.lru_cache(maxsize=16)
def _parsed_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # A policy's networks, parsed once instead of on every request.
    return parse_networks(networks)


def address_allowed(address: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> bool:
    """False for link-local / metadata addresses (also IPv4 mapped into IPv6) unless inside ``allowed``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allowed if net.version == ip.version):
        return True
    return not any(ip in net for net in BLOCKED_NETWORKS if net.version == ip.version)


def check_url_host(url: URL, allowed: Sequence[IPNetwork] = ()) -> None:
    """Refuse an IP-literal host that is blocked; names are checked by :class:`GuardedResolver`."""
    host = url.host or ""
    if _literal_host_refused(host, tuple(allowed)):
        raise BlockedAddressError(f"refused address {host} (link-local or cloud metadata)")


@functools.lru_cache(maxsize=256)
def _literal_host_refused(host: str, allowed: tuple[IPNetwork, ...]) -> bool:
    # Cached: a download asks about the same few hosts for every photo.
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return not address_allowed(host, allowed)


class GuardedResolver(AbstractResolver):
    """Wraps a resolver and drops blocked addresses, so a DNS name cannot point us at a metadata service."""

    def __init__(self, inner: AbstractResolver, allowed: Sequence[IPNetwork] = ()) -> None:
        self._inner = inner
        self._allowed = tuple(allowed)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = [r for r in results if address_allowed(r["host"], self._allowed)]
        if not kept:
            addresses = ", ".join(sorted({r["host"] for r in results}))
            raise BlockedAddressError(
                f"refused {host}: resolves to {addresses} (link-local or cloud metadata)")
        return kept

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class SessionPolicy:
    """Connection settings shared by every session this package opens."""

    limit: int = 64
    limit_per_host: int = 16
    insecure_hosts: tuple[str, ...] = ()
    allowed_networks: tuple[str, ...] = ()
    dns_cache_ttl_s: int = 300
    # How messages name the setting that lists ``insecure_hosts``: its variable, or the run config's field.
    insecure_setting: str = INSECURE_HOSTS_VARIABLE

    def ssl_for(self, url: URL) -> bool:
        """Per-request ``ssl`` argument: ``False`` (no verification) only for the listed hosts."""
        return (url.host or "").lower() not in {h.lower() for h in self.insecure_hosts}


def open_session(policy: SessionPolicy, timeout: aiohttp.ClientTimeout | None = None, *,
                 auto_decompress: bool = True) -> aiohttp.ClientSession:
    """A session with the policy above; call inside a running event loop and close it (``async with``).

    ``auto_decompress=False`` keeps bodies as sent, whatever their ``Content-Encoding`` says.
    """
    resolver = GuardedResolver(aiohttp.ThreadedResolver(), parse_networks(policy.allowed_networks))
    connector = aiohttp.TCPConnector(
        limit=policy.limit,
        limit_per_host=policy.limit_per_host,
        use_dns_cache=True,
        ttl_dns_cache=policy.dns_cache_ttl_s,
        resolver=resolver,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout or aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60),
        headers={"User-Agent": USER_AGENT},
        auto_decompress=auto_decompress,
    )


def local_path_of(url: str) -> Path | None:
    """The filesystem path of a ``file://`` URL or a plain path; None for network URLs."""
    if url.startswith(("http://", "https://")):  # nearly every row: no need to parse it here
        return None
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"{url}: file URLs must name a local path")
        return Path(urllib.parse.unquote(parsed.path))
    if parsed.scheme in ("http", "https"):
        return None
    # Windows drive letters parse as one-letter schemes; anything else is not a URL we know.
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ValueError(f"{url}: unsupported URL scheme {parsed.scheme!r}")
    return Path(url).expanduser()


class PermanentFetchError(Exception):
    """A failure that retrying cannot fix (4xx, redirect loop, refused address...)."""


class DownloadError(RuntimeError):
    """A file download failed; the message names the URL."""


# Archive downloads are few and long: waits start at up to 2 s and grow to at most 30 s.
DOWNLOAD_RETRY = RetryPolicy(retries=3, base_s=2.0, max_s=30.0)
# The real metadata archive is ~40 MB; anything past this is not a Hotels-50K archive.
MAX_DOWNLOAD_BYTES = 2_000_000_000
# A server that sends nothing for this long is reported (and retried) instead of waited for.
DOWNLOAD_STALL_S = 30.0
PROGRESS_EVERY_S = 10.0
logger = logging.getLogger(__name__)


def download_file(url: str, dest: Path, *, insecure_hosts: Sequence[str] = (),
                  insecure_setting: str = INSECURE_HOSTS_VARIABLE, timeout_s: float = 600,
                  allowed_networks: Sequence[str] = (), attempts: int = 4,
                  rng: random.Random | None = None, max_bytes: int = MAX_DOWNLOAD_BYTES,
                  stall_s: float = DOWNLOAD_STALL_S) -> Path:
    """Fetch ``url`` (http(s), ``file://`` or a plain path) to ``dest`` atomically and return ``dest``.

    ``dest`` only ever appears by an atomic rename of a complete file, so an existing ``dest`` is
    complete and is not fetched again (this works offline). A network download streams into
    ``dest.part``; a broken or killed download resumes from there with an HTTP Range request, and the
    part is renamed only when its size matches the length the server announced. Only a 200, or a 206
    answering a resume, is the file; its bytes are stored as sent, whatever its ``Content-Encoding``.
    The response the part came from is remembered beside it (``dest.part.json``: URL, ETag,
    Last-Modified, length): a resume sends ``If-Range`` and keeps the new bytes only if they continue
    that same file, so a file replaced upstream, or another URL for the same ``dest``, starts over
    instead of splicing two files. Local sources are copied, again unless ``dest`` exists with the same
    size. ``rng`` draws the jittered waits between attempts (seed it for reproducible tests). A body
    over ``max_bytes`` is refused; a server silent for ``stall_s`` fails the attempt, and every failed
    attempt and every ``PROGRESS_EVERY_S`` of transfer is logged.
    """
    dest = Path(dest)
    try:
        source = local_path_of(str(url))
    except ValueError as exc:
        message = str(exc) if str(exc).startswith(str(url)) else f"{url}: not a valid URL ({exc})"
        raise DownloadError(message) from None
    if source is not None:
        return _copy_local(source, dest, max_bytes)
    if dest.exists():
        return dest
    policy = SessionPolicy(limit=4, limit_per_host=2, insecure_hosts=tuple(insecure_hosts),
                           allowed_networks=tuple(allowed_networks), insecure_setting=insecure_setting)
    retry = replace(DOWNLOAD_RETRY, retries=max(0, attempts - 1))
    part = _part_of(dest)
    try:
        asyncio.run(asyncio.wait_for(_download_resumable(str(url), dest, policy, retry, rng, max_bytes, stall_s),
                                     timeout_s))
    except TimeoutError:
        raise DownloadError(f"{url}: not complete after {timeout_s:.0f} s{_resume_hint(part)}") from None
    return dest


def _part_of(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _origin_of(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _read_origin(part: Path) -> dict[str, Any] | None:
    try:
        origin = json.loads(_origin_of(part).read_text())
    except (OSError, ValueError):
        return None
    return origin if isinstance(origin, dict) else None


def _write_origin(part: Path, url: str, resp: aiohttp.ClientResponse, total: int | None) -> None:
    origin = {"url": url, "etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified"),
              "total": total}
    _origin_of(part).write_text(json.dumps(origin))


def _discard_part(part: Path) -> None:
    part.unlink(missing_ok=True)
    _origin_of(part).unlink(missing_ok=True)


def _if_range(origin: dict[str, Any]) -> str | None:
    """The validator a resume sends: a strong ETag, else the date (RFC 9110 forbids weak ETags here)."""
    etag = origin.get("etag")
    if isinstance(etag, str) and etag and not etag.startswith("W/"):
        return etag
    modified = origin.get("last_modified")
    return modified if isinstance(modified, str) and modified else None


def _continues(origin: dict[str, Any], resp: aiohttp.ClientResponse, total: int | None) -> bool:
    """Whether a 206 answer is a range of the file the part came from (servers may ignore If-Range)."""
    for key, header in (("etag", "ETag"), ("last_modified", "Last-Modified")):
        if origin.get(key) and resp.headers.get(header) and origin[key] != resp.headers[header]:
            return False
    return origin.get("total") is None or total is None or origin["total"] == total


def _resume_hint(part: Path) -> str:
    """Mention the partial file only when there is one to resume from."""
    if part.exists() and part.stat().st_size > 0:
        return f" (partial data kept in {part.name}, a rerun resumes)"
    return ""


def _copy_local(source: Path, dest: Path, max_bytes: int) -> Path:
    if not source.is_file():
        raise DownloadError(f"{source}: no such file")
    if dest.exists() and dest.stat().st_size == source.stat().st_size:
        return dest
    with atomic_path(dest) as tmp:
        copy_capped(source, tmp, max_bytes)
    return dest


def open_regular_file(path: Path) -> int:
    """A read-only descriptor of ``path`` if it is a regular file, else OSError.

    Opened without blocking (a FIFO would otherwise wait for a writer forever) and checked with
    ``fstat`` on the descriptor itself, so what is checked is what is read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_capped(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``; OSError(EFBIG) past ``max_bytes`` whatever its size claims."""
    fd = open_regular_file(path)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"larger than {max_bytes / 1e6:g} MB")
    return data


def copy_capped(source: Path, target: Path, max_bytes: int) -> None:
    """Copy the regular file ``source`` to ``target``, refusing (OSError EFBIG) past ``max_bytes``."""
    fd = open_regular_file(source)
    copied = 0
    with os.fdopen(fd, "rb") as src, open(target, "wb") as out:
        while chunk := src.read(1 << 20):
            copied += len(chunk)
            if copied > max_bytes:
                raise OSError(errno.EFBIG, f"{source}: larger than {max_bytes / 1e6:g} MB")
            out.write(chunk)


async def _download_resumable(url: str, dest: Path, policy: SessionPolicy, retry: RetryPolicy,
                              rng: random.Random | None, max_bytes: int, stall_s: float) -> None:
    part = _part_of(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(30.0, stall_s), sock_read=stall_s)
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise DownloadError(f"{url}: not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise DownloadError(f"{url}: not a valid http(s) URL")

    def on_retry(attempt: int, reason: str, wait_s: float) -> None:
        logger.warning("%s: attempt %d failed (%s); retrying in %.0f s", url, attempt, reason, wait_s)

    # The archive is stored as sent: a server that labels a .tar.gz "Content-Encoding: gzip" (Apache's
    # AddEncoding) means the file itself, and Content-Length counts those bytes.
    async with open_session(policy, timeout, auto_decompress=False) as session:

        async def once(_: int) -> None:
            try:
                await _download_once(session, policy, parsed, part, max_bytes)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise as_retry_failure(exc, policy.insecure_setting) from exc

        try:
            await retry_async(once, retry, rng, on_retry=on_retry)
        except PermanentFetchError as exc:
            raise DownloadError(f"{url}: {exc}") from None
        except RetriesExhausted as exc:
            raise DownloadError(f"{url}: failed after {exc.attempts} attempts: {exc.reason}"
                                f"{_resume_hint(part)}") from None
    os.replace(part, dest)
    _origin_of(part).unlink(missing_ok=True)


async def _download_once(session: aiohttp.ClientSession, policy: SessionPolicy, url: URL, part: Path,
                         max_bytes: int = MAX_DOWNLOAD_BYTES) -> None:
    """One (possibly resumed) attempt; returns when ``part`` holds the whole body, else raises."""
    have = part.stat().st_size if part.exists() else 0
    origin = _read_origin(part) if have else None
    if have and (origin is None or origin.get("url") != str(url)):
        _discard_part(part)  # bytes of unknown origin cannot be trusted to continue this file
        have, origin = 0, None
    if origin is not None and origin.get("total") == have:
        return  # complete already (killed before the rename): a range request would only get a 416
    headers = dict(IDENTITY_ENCODING)
    if have and origin is not None:
        headers["Range"] = f"bytes={have}-"
        if validator := _if_range(origin):
            headers["If-Range"] = validator
    async with follow_redirects(session, policy, url, headers) as resp:
        if resp.status == 416 and have:
            _discard_part(part)  # the part is bogus against this resource; start over on the next attempt
            raise Retryable("HTTP 416 for the partial download")
        if resp.status >= 400:
            raise status_retry(resp.status, resp.headers.get("Retry-After")) or PermanentFetchError(
                f"HTTP {resp.status}")
        if resp.status not in (200, 206):
            # A 204, a 300 or a redirect without Location carries no archive; saving its body would keep it
            # as the finished file, never fetched again.
            what = " redirect without Location" if resp.status in REDIRECT_STATUSES else ""
            raise PermanentFetchError(f"HTTP {resp.status}{what}")
        if resp.status == 206:
            start, total = _content_range(resp.headers.get("Content-Range", ""))
            if have and (origin is None or start != have or not _continues(origin, resp, total)):
                _discard_part(part)
                raise Retryable("the server's range does not continue the partial download (changed upstream?)")
            if not have and start != 0:  # a range nobody asked for: usable only if it starts at byte 0
                raise Retryable("the server answered a plain request with a part of the file")
        else:
            have, total = 0, resp.content_length
        resumed = have > 0
        too_large = PermanentFetchError(f"larger than {max_bytes / 1e6:g} MB")
        if total is not None and total > max_bytes:
            raise too_large
        clock = asyncio.get_running_loop().time
        last_log = clock()
        with open(part, "ab" if resumed else "wb") as fh:
            if not resumed:  # recorded after the old bytes are gone, so the record never describes them
                _write_origin(part, str(url), resp, total)
            async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                have += len(chunk)
                if have > max_bytes:
                    raise too_large
                fh.write(chunk)
                if clock() - last_log >= PROGRESS_EVERY_S:
                    last_log = clock()
                    logger.info("%s: %.1f MB%s received", url, have / 1e6,
                                f" of {total / 1e6:.1f} MB" if total else "")
    if total is not None and have != total:
        raise Retryable(f"body {'shorter' if have < total else 'longer'} than announced ({have} bytes, {total} "
                        "announced)")


def _content_range(value: str) -> tuple[int | None, int | None]:
    # "bytes 100-199/200" -> (100, 200); a total of "*" means unknown.
    span, _, total = value.removeprefix("bytes ").rpartition("/")
    first = span.partition("-")[0].strip()
    return (int(first) if first.isdigit() else None), (int(total) if total.strip().isdigit() else None)


class follow_redirects:
    """``async with`` one GET, following redirects hop by hop with the host check on every hop."""

    def __init__(self, session: aiohttp.ClientSession, policy: SessionPolicy, url: URL,
                 headers: dict[str, str] | None = None, max_redirects: int = 10,
                 timeout: aiohttp.ClientTimeout | None = None) -> None:
        self._session, self._policy, self._url = session, policy, url
        self._headers, self._max, self._timeout = headers or {}, max_redirects, timeout
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        allowed = _parsed_networks(tuple(self._policy.allowed_networks))
        url, seen = self._url, {str(self._url)}
        for _ in range(self._max + 1):
            try:
                check_url_host(url, allowed)
            except BlockedAddressError as exc:
                raise PermanentFetchError(str(exc)) from None
            kwargs: dict[str, Any] = {"timeout": self._timeout} if self._timeout is not None else {}
            resp = await self._session.get(url, headers=self._headers, allow_redirects=False,
                                           ssl=self._policy.ssl_for(url), **kwargs)
            location = resp.headers.get("Location")
            if resp.status not in REDIRECT_STATUSES or not location:
                self._resp = resp
                return resp
            resp.release()
            try:
                url = url.join(URL(location))
            except ValueError:  # yarl's parse errors ("Invalid IPv6 URL"): the server's fault, final
                raise PermanentFetchError(f"invalid redirect Location {location!r}") from None
            if url.scheme not in ("http", "https"):
                raise PermanentFetchError(f"redirect to unsupported scheme {url.scheme!r}")
            if str(url) in seen:
                raise PermanentFetchError("redirect loop")
            seen.add(str(url))
        raise PermanentFetchError(f"more than {self._max} redirects")

    async def __aexit__(self, *exc: Any) -> None:
        if self._resp is not None:
            self._resp.release()


def is_refused(exc: BaseException) -> bool:
    """True when the address policy refused the connection: retrying cannot help."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return isinstance(exc.os_error, BlockedAddressError)
    return isinstance(exc, BlockedAddressError)


def as_retry_failure(exc: BaseException, insecure_setting: str = INSECURE_HOSTS_VARIABLE
                     ) -> Retryable | PermanentFetchError:
    """A network failure as the retry loop sees it: what another attempt would meet again (a refused address,
    an invalid URL or certificate, a response aiohttp cannot parse) is final, the rest transient."""
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return Retryable(describe_client_error(exc, insecure_setting))  # the proxy's own answer may pass
    if is_refused(exc) or isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError,
                                           aiohttp.ClientConnectorCertificateError, aiohttp.ClientResponseError)):
        return PermanentFetchError(describe_client_error(exc, insecure_setting))
    return Retryable(describe_client_error(exc, insecure_setting))


def describe_client_error(exc: BaseException, insecure_setting: str = INSECURE_HOSTS_VARIABLE) -> str:
    """A short, stable reason for a network failure (no addresses of temporary sockets, no tracebacks). The
    reason for an untrusted certificate names ``insecure_setting``, where the user lists hosts to accept."""
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return f"invalid URL ({exc})"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not valid (list the host in {insecure_setting} to accept it)"
    if is_refused(exc):
        return str(exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "DNS lookup failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection refused or unreachable"
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"proxy answered HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised by aiohttp's parser only (nothing here calls raise_for_status); its "400" is not the
        # server's. The message's first words name the fault; the rest quotes the raw bytes.
        fault = exc.message.partition("\n")[0].partition(":")[0].strip()[:80]
        return f"malformed HTTP response ({fault})"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "connection closed mid-body"
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    return type(exc).__name__
