"""A loopback HTTP server for the demo photos, so the demo runs the real aiohttp download path."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

from aiohttp import web


class _Started(TypedDict, total=False):
    """What the server thread hands back once it listens."""

    runner: web.AppRunner
    port: int


@contextlib.contextmanager
def serve_directory(root: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``root`` on ``host`` (a free port) from a background thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: _Started = {}

    async def start() -> None:
        app = web.Application()
        app.router.add_static("/", Path(root), show_index=False, follow_symlinks=False)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, name="hotelcap-demo-server", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the demo photo server did not start")
    try:
        yield f"http://{host}:{state['port']}/"
    finally:
        runner = state["runner"]
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
