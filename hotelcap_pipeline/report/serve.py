"""Serve the written report over HTTP beside `dagster dev`, so the report asset's link opens it in one click.

A web page cannot open a `file://` link, and Dagster's webserver serves only its own UI; a read-only
static server on 127.0.0.1 bridges the two.
"""

from __future__ import annotations

import functools
import os
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_REPORT_PORT = 3001


REPORT_URL_ENV = "HOTELCAP_REPORT_URL"  # set by `hotelcap ui` for the dagster dev it starts


def report_url(port: int | None = None) -> str:
    """The report's index page: on ``port``, else where `hotelcap ui` (or the user) said it is served."""
    if port is None and os.environ.get(REPORT_URL_ENV):
        return index_page(os.environ[REPORT_URL_ENV])
    return f"http://127.0.0.1:{port or DEFAULT_REPORT_PORT}/index.html"


def index_page(url: str) -> str:
    """``url`` as the report's page: a folder's URL (``https://host/reports/hotelcap``, with or without the
    slash) gets ``index.html``, so that figure links made relative to the page stay inside that folder. Only
    an ``.html`` or ``.htm`` name is a page: a folder may have a dot in its name (``run-2024.05.01``)."""
    parts = urllib.parse.urlsplit(url)
    last = parts.path.rsplit("/", 1)[-1]
    if last.lower().endswith((".html", ".htm")):
        return url
    path = parts.path + ("index.html" if parts.path.endswith("/") else "/index.html")
    return urllib.parse.urlunsplit(parts._replace(path=path))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_report(folder: Path, port: int = DEFAULT_REPORT_PORT) -> ThreadingHTTPServer:
    """Start serving ``folder`` on 127.0.0.1:``port`` in a daemon thread; ``shutdown()`` stops it."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="report-server", daemon=True).start()
    return server
