"""A real aiohttp server on 127.0.0.1, run in a background thread, with one route per fault case."""

from __future__ import annotations

import asyncio
import collections
import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import photo_factories as pf
import pytest
from aiohttp import web


@dataclass
class PhotoServer:
    base: str
    blobs: dict[str, tuple[bytes, str]]
    hits: collections.Counter = field(default_factory=collections.Counter)
    range_headers: list[str] = field(default_factory=list)
    if_range_headers: list[str | None] = field(default_factory=list)
    archive: Path | None = None
    # Set: the next whole-file answer sends only this many bytes, then the connection drops.
    archive_cut: int | None = None
    accept_encodings: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _build_app(server: PhotoServer) -> web.Application:
    async def blob(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        server.hits[name] += 1
        if name not in server.blobs:
            return web.Response(status=404, text="not here")
        data, content_type = server.blobs[name]
        delay = float(request.query.get("delay", "0"))
        if delay:
            await asyncio.sleep(delay)
        return web.Response(body=data, content_type=content_type)

    async def fail_then_ok(request: web.Request) -> web.Response:
        key = f"{request.match_info['status']}:{request.match_info['key']}"
        server.hits[key] += 1
        if server.hits[key] == 1:
            status = int(request.match_info["status"])
            headers = {"Retry-After": request.query["retry_after"]} if "retry_after" in request.query else {}
            return web.Response(status=status, headers=headers)
        return web.Response(body=server.blobs["photo"][0], content_type="image/jpeg")

    async def stall(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg", "Content-Length": "100000"})
        await resp.prepare(request)
        await resp.write(server.blobs["photo"][0][:1000])
        await asyncio.sleep(30)
        return resp

    async def oversize(request: web.Request) -> web.StreamResponse:
        if request.query.get("chunked"):
            resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for _ in range(40):
                await resp.write(b"\0" * 65536)
            return resp
        return web.Response(body=b"\0" * 3_000_000, content_type="image/jpeg")

    async def redirect(request: web.Request) -> web.Response:
        hops = int(request.match_info["hops"])
        target = "/blob/photo" if hops == 0 else f"/redirect/{hops - 1}"
        raise web.HTTPFound(target)

    async def bad_location(request: web.Request) -> web.Response:
        server.hits["bad_location"] += 1
        return web.Response(status=302, headers={"Location": "http://[::1/x.jpg"})

    async def long_header(request: web.Request) -> web.Response:
        server.hits["long_header"] += 1
        return web.Response(body=server.blobs["photo"][0], content_type="image/jpeg", headers={"X-Junk": "a" * 20_000})

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop/b" if request.match_info["side"] == "a" else "/loop/a")

    async def archive(request: web.Request) -> web.StreamResponse:
        server.hits["archive"] += 1
        if "Range" in request.headers:
            server.range_headers.append(request.headers["Range"])
            server.if_range_headers.append(request.headers.get("If-Range"))
        assert server.archive is not None
        if server.archive_cut is not None and "Range" not in request.headers:
            data, cut = server.archive.read_bytes(), server.archive_cut
            server.archive_cut = None
            st = server.archive.stat()
            # The ETag FileResponse gives this file, so a resume against it can be recognised as the same file.
            resp = web.StreamResponse(headers={"ETag": f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
                                               "Content-Length": str(len(data))})
            await resp.prepare(request)
            await resp.write(data[:cut])
            assert request.transport is not None
            request.transport.close()
            return resp
        # FileResponse answers Range requests with 206 (it honours only date If-Range values, not ETags).
        return web.FileResponse(server.archive)

    async def archive_gzip_encoded(request: web.Request) -> web.Response:
        # Apache's "AddEncoding x-gzip .gz": the .tar.gz itself, labelled as a gzip-encoded tar.
        assert server.archive is not None
        return web.Response(body=server.archive.read_bytes(),
                            headers={"Content-Type": "application/x-tar", "Content-Encoding": "gzip"})

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        server.hits[f"status:{code}"] += 1
        return web.Response(status=code, text="<html>moved, see the mirror list</html>", content_type="text/html")

    async def gzip_bomb(request: web.Request) -> web.Response:
        # ~20 KB on the wire that inflates to 20 MB: a Content-Length well under any body limit.
        server.hits["gzip_bomb"] += 1
        server.accept_encodings.append(request.headers.get("Accept-Encoding", ""))
        return web.Response(body=gzip.compress(b"\0" * 20_000_000, compresslevel=9),
                            headers={"Content-Type": "image/jpeg", "Content-Encoding": "gzip"})

    async def silent(request: web.Request) -> web.StreamResponse:
        server.hits["silent"] += 1
        resp = web.StreamResponse(headers={"Content-Type": "application/gzip", "Content-Length": "100000"})
        await resp.prepare(request)
        await resp.write(b"\x1f\x8b")
        await asyncio.sleep(30)
        return resp

    app = web.Application()
    app.router.add_get("/gzip-bomb", gzip_bomb)
    app.router.add_get("/silent.tar.gz", silent)
    app.router.add_get("/blob/{name}", blob)
    app.router.add_get("/fail/{status}/{key}", fail_then_ok)
    app.router.add_get("/stall", stall)
    app.router.add_get("/oversize", oversize)
    app.router.add_get("/redirect/{hops}", redirect)
    app.router.add_get("/loop/{side}", loop)
    app.router.add_get("/bad-location", bad_location)
    app.router.add_get("/long-header", long_header)
    app.router.add_get("/archive.tar.gz", archive)
    app.router.add_get("/encoded/archive.tar.gz", archive_gzip_encoded)
    app.router.add_get("/status/{code}", status)
    return app


def default_blobs() -> dict[str, tuple[bytes, str]]:
    photo = pf.jpeg((800, 600))
    return {
        "photo": (photo, "image/jpeg"),
        "portrait": (pf.jpeg((600, 1200)), "image/jpeg"),
        "small": (pf.jpeg((320, 240)), "image/jpeg"),
        "octet": (photo, "application/octet-stream"),
        "truncated": (photo[: len(photo) // 2], "image/jpeg"),
        "html": (b"<html><body>Sorry, this photo moved</body></html>", "text/html"),
        "empty": (b"", "image/jpeg"),
        "bomb": (pf.bomb_png(), "image/png"),
        "exif6": (pf.exif_rotated_jpeg(6), "image/jpeg"),
        "cmyk": (pf.encode(pf.halves((400, 300), "CMYK"), "JPEG"), "image/jpeg"),
        "gray": (pf.encode(pf.halves((400, 300), "L"), "JPEG"), "image/jpeg"),
        "palette": (pf.palette_png(), "image/png"),
        "palette_t": (pf.palette_png(transparent=True), "image/png"),
        "rgba": (pf.rgba_png(), "image/png"),
    }


@pytest.fixture
def photo_server(tmp_path: Path) -> Iterator[PhotoServer]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    async def start() -> None:
        server = PhotoServer(base="", blobs=default_blobs())
        runner = web.AppRunner(_build_app(server), shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        server.base = f"http://127.0.0.1:{port}"
        holder.update(server=server, runner=runner)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10), "test server did not start"
    yield holder["server"]  # type: ignore[misc]
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)  # type: ignore[union-attr]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
