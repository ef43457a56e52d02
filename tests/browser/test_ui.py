"""The Dagster UI as users see it: `dagster dev` on 127.0.0.1 driven by Debian's headless chromium.

Checks that the asset graph shows every asset key of ``hotelcap_pipeline.definitions.defs`` and that the
webserver serves every lineage edge, opens one asset's page and one shard's page (which shows that shard's
own row count), follows the report asset's ``open_report`` link to the report served beside the UI (as
`hotelcap ui` serves it), and saves screenshots (PNG) to
``HOTELCAP_SCREENSHOTS_DIR`` (default ``data_store/report/screenshots/``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers_processes import stop_group

from hotelcap_pipeline.report.serve import REPORT_URL_ENV, report_url, serve_report
from hotelcap_pipeline.settings import PROJECT_ROOT
from hotelcap_pipeline.store import DataStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 90
ASSETS_QUERY = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is absent: apt-get install -y chromium (never a downloaded browser build)",
        allow_module_level=True,
    )


def screenshots_dir() -> Path:
    return Path(
        os.environ.get("HOTELCAP_SCREENSHOTS_DIR") or PROJECT_ROOT / "data_store" / "report" / "screenshots"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def wait_until_served(base: str, process: subprocess.Popen, log: Path) -> None:
    """Until the code location is loaded: the webserver answers before its code server is up."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if graphql(base, ASSETS_QUERY)["assetNodes"]:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, AssertionError, KeyError):
            pass
        time.sleep(1)
    raise AssertionError(
        f"dagster dev did not serve the assets in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture(scope="module")
def ui_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of the UI: a fresh instance and store, where the photo stage ran over every shard in one
    run, so shard pages have something of their own to show."""
    # The venv's own CLIs, also when pytest runs as .venv/bin/python without an activated venv.
    bin_dir = str(Path(sys.executable).parent)
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "DAGSTER_HOME": str(home),
        "HOTELCAP_PROFILE": "demo",
        "HOTELCAP_DATA_STORE": str(tmp_path_factory.mktemp("store")),
        # Where the report (and every figure, contact sheet and grid the events show) is served, as `hotelcap ui`
        # tells the runs it launches; served_report serves it there.
        REPORT_URL_ENV: report_url(free_port()),
    }
    hotelcap = shutil.which("hotelcap", path=bin_dir) or shutil.which("hotelcap")
    if hotelcap is None:
        pytest.skip("the hotelcap CLI is not installed")
    done = subprocess.run([hotelcap, "materialize", "--select", "hotel_images"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def dagster_ui(ui_env: dict[str, str]) -> Iterator[str]:
    dagster = shutil.which("dagster", path=ui_env["PATH"])
    if dagster is None:
        pytest.skip("the dagster CLI is not installed")
    env, home = ui_env, Path(ui_env["DAGSTER_HOME"])
    port = free_port()
    log = home / "dagster_dev.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(base, process, log)
        yield base
    finally:
        # dagster dev stops its webserver, daemon and code server on SIGINT; its own group only.
        stop_group(process, signal.SIGINT)


# Only the report, on the UI's instance: its sections whose tables are not materialized say so, and nothing
# upstream of it is run again (`hotelcap materialize --select report` would add every missing asset).
MATERIALIZE_REPORT = """
import dagster as dg
from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
with dg.DagsterInstance.get() as instance:
    assert run_plan(defs, instance, Plan([dg.AssetKey("report")], {})).success
"""


@pytest.fixture(scope="module")
def served_report(ui_env: dict[str, str]) -> Iterator[str]:
    """The report materialized with the link `hotelcap ui` would give it, and served as `hotelcap ui` serves it:
    the report folder of the store on 127.0.0.1 (a port of its own). Yields the report's URL."""
    url = ui_env[REPORT_URL_ENV]
    done = subprocess.run([sys.executable, "-c", MATERIALIZE_REPORT], cwd=PROJECT_ROOT, env=ui_env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    server = serve_report(DataStore.at(ui_env["HOTELCAP_DATA_STORE"]).report, int(urlsplit(url).port or 80))
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def expected_graph() -> tuple[set[str], set[tuple[str, str]]]:
    """Asset keys and (upstream, downstream) edges of the code location, from the Definitions object."""
    from hotelcap_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    edges = {(p.to_user_string(), k.to_user_string()) for k in keys for p in graph.get(k).parent_keys}
    return {k.to_user_string() for k in keys}, edges


def served_graph(base: str) -> tuple[set[str], set[tuple[str, str]]]:
    nodes = graphql(base, ASSETS_QUERY)["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    edges = {
        ("/".join(d["path"]), "/".join(n["assetKey"]["path"])) for n in nodes for d in n["dependencyKeys"]
    }
    return keys, edges


@pytest.fixture(scope="module")
def page(dagster_ui: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as playwright:
        # A fresh --user-data-dir every run: no cookies, dismissed dialogs or graph state carry over.
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium_profile"),
            executable_path=str(CHROMIUM),
            headless=True,  # Playwright passes --headless itself
            args=[f for f in CHROMIUM_FLAGS if f != "--headless"],
            viewport={"width": 1920, "height": 1800},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def dismiss_community_dialog(page: sync_api.Page, timeout_ms: int = 10_000) -> None:
    """The "Join the Dagster community" dialog shows on some first visits, late on a busy machine, and then
    covers the page so clicks time out: Skip it when it does."""
    skip = page.get_by_role("button", name="Skip", exact=True)
    try:
        skip.wait_for(state="visible", timeout=timeout_ms)
    except sync_api.TimeoutError:
        return
    skip.click()


def node_labels(page: sync_api.Page) -> set[str]:
    """Texts of the graph's nodes (asset nodes start with their key)."""
    return {(text or "").strip() for text in page.locator("svg foreignObject").all_text_contents()}


def test_asset_graph_shows_every_asset_and_edge(dagster_ui: str, page: sync_api.Page) -> None:
    keys, edges = expected_graph()
    served_keys, served_edges = served_graph(dagster_ui)
    assert served_keys == keys, f"missing {keys - served_keys}, unexpected {served_keys - keys}"
    assert served_edges == edges, f"missing {edges - served_edges}, unexpected {served_edges - edges}"

    page.goto(f"{dagster_ui}/asset-groups", wait_until="networkidle")
    dismiss_community_dialog(page)
    page.wait_for_selector("svg foreignObject", timeout=30_000)
    # Groups start collapsed; expand them all, then reload so the graph is laid out and fitted whole.
    dismiss_community_dialog(page, timeout_ms=1000)
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Expand all groups").click()
    page.reload(wait_until="networkidle")
    page.wait_for_selector("svg foreignObject", timeout=30_000)
    page.wait_for_function(
        "n => document.querySelectorAll('svg foreignObject').length >= n", arg=len(keys), timeout=15_000
    )
    labels = node_labels(page)
    shown = {k for k in keys if any(label.startswith(k) for label in labels)}
    assert shown == keys, f"asset graph lacks nodes {sorted(keys - shown)}"
    # Every edge is drawn as one SVG path between nodes; there are at least as many paths as edges.
    assert page.locator("svg path").count() >= len(edges)
    out = screenshots_dir()
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "asset_graph.png"))


def test_asset_page_shows_its_lineage(dagster_ui: str, page: sync_api.Page) -> None:
    keys, edges = expected_graph()
    # The asset with the most upstream edges shows the most lineage on its own page.
    key = max(sorted(keys), key=lambda k: sum(1 for _, child in edges if child == k))
    parents = {p for p, child in edges if child == key}
    page.goto(f"{dagster_ui}/assets/{key}", wait_until="networkidle")
    dismiss_community_dialog(page)
    page.get_by_text(key).first.wait_for(timeout=30_000)
    out = screenshots_dir()
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"asset_{key}.png"))

    page.goto(f"{dagster_ui}/assets/{key}?view=lineage", wait_until="networkidle")
    page.wait_for_selector("svg foreignObject", timeout=30_000)
    labels = node_labels(page)
    missing = {p for p in parents if not any(label.startswith(p) for label in labels)}
    assert not missing, f"lineage of {key} lacks {sorted(missing)}"
    page.screenshot(path=str(out / f"asset_{key}_lineage.png"))


def test_shard_page_shows_that_shards_own_row_count(
    dagster_ui: str, ui_env: dict[str, str], served_report: str, page: sync_api.Page
) -> None:
    import polars as pl

    tables = Path(ui_env["HOTELCAP_DATA_STORE"]) / "tables" / "hotel_images.parquet"
    counts = dict(pl.read_parquet(tables / "*.parquet").group_by("shard").len().iter_rows())
    total = sum(counts.values())
    # A shard whose row count differs from the run's total and from every other shard.
    shard = next(s for s, n in sorted(counts.items()) if n != total and list(counts.values()).count(n) == 1)
    page.goto(f"{dagster_ui}/assets/hotel_images?view=partitions&partition={shard}", wait_until="networkidle")
    dismiss_community_dialog(page)
    page.get_by_text(f"{shard}.parquet").first.wait_for(timeout=30_000)  # this shard's own file
    rows = page.get_by_role("row").filter(has_text="row_count")
    rows.first.wait_for(timeout=10_000)
    shown = rows.first.inner_text()
    assert str(counts[shard]) in re.findall(r"\d+", shown.replace(",", "")), shown
    # Its contact sheet: no image bytes in the event, the file itself from the report server.
    sheet = page.get_by_role("row").filter(has_text="contact_sheet").first
    image = sheet.locator(f'img[src$="/figures/contact_sheet_{shard}.png"]').first
    image.wait_for(timeout=10_000)
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle(), timeout=10_000)
    out = screenshots_dir()
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"hotel_images_{shard}.png"))


def test_report_asset_page_links_to_the_served_report(
    dagster_ui: str, served_report: str, page: sync_api.Page
) -> None:
    page.goto(f"{dagster_ui}/assets/report", wait_until="networkidle")
    dismiss_community_dialog(page)
    link = page.locator(f'a[href="{served_report}"]').first
    link.wait_for(timeout=30_000)  # the latest materialization's open_report entry
    out = screenshots_dir()
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "report_asset_open_report.png"))
    # Dagster opens URL metadata in a new tab; follow the link either way.
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        report = opened.value
    else:
        link.click()
        report = page
    report.wait_for_load_state("load")
    assert report.url == served_report
    assert report.title().startswith("hotelcap report")
    heading = report.get_by_role("heading", name="What worked and what did not")
    heading.wait_for(timeout=10_000)
    assert heading.is_visible()
    report.screenshot(path=str(out / "report_from_asset_page.png"))
    if report is not page:
        report.close()
