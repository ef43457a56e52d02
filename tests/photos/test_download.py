"""download_images against a real loopback server: each fault ends as a clear failed row or a good photo."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest
from helpers_photos import fast, requests_for
from photo_factories import BLUE, RED, encode, halves
from PIL import Image

from hotelcap_pipeline.photos import MANIFEST_SCHEMA, download_images
from hotelcap_pipeline.photos.progress import ProgressEvent


def one(server, path: str, tmp_path: Path, **options: object) -> dict:
    manifest = download_images(requests_for([server.url(path)]), tmp_path, fast(**options))
    assert manifest.height == 1
    return manifest.row(0, named=True)


def assert_no_stray_files(root: Path) -> None:
    images = root / "images"
    if images.exists():
        assert [p for p in images.rglob("*") if p.is_file() and p.suffix != ".jpg"] == []


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def test_landscape_and_portrait_get_longer_side_640(photo_server, tmp_path):
    urls = [photo_server.url("/blob/photo"), photo_server.url("/blob/portrait")]
    manifest = download_images(requests_for(urls), tmp_path, fast())
    assert manifest.schema == pl.Schema(MANIFEST_SCHEMA)
    assert manifest["status"].to_list() == ["ok", "ok"]
    assert list(zip(manifest["width"], manifest["height"], strict=True)) == [(640, 480), (320, 640)]
    originals = list(zip(manifest["orig_width"], manifest["orig_height"], strict=True))
    assert originals == [(800, 600), (600, 1200)]
    assert manifest["path"][0] == "images/train/3/391/traffickcam/1001.jpg"
    for row in manifest.iter_rows(named=True):
        with Image.open(tmp_path / row["path"]) as im:
            assert im.size == (row["width"], row["height"])
        assert (tmp_path / row["path"]).stat().st_size == row["bytes"]


@pytest.mark.parametrize(("upscale", "size"), [(True, (640, 480)), (False, (320, 240))])
def test_small_photo_upscaled_unless_disabled(photo_server, tmp_path, upscale, size):
    row = one(photo_server, "/blob/small", tmp_path, upscale=upscale)
    assert (row["status"], row["width"], row["height"]) == ("ok", *size)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/blob/missing", "HTTP 404"),
        ("/blob/truncated", "truncated image"),
        ("/blob/html", "not an image (text/html)"),
        ("/blob/empty", "empty body"),
        ("/oversize", "body larger than 1 MB"),
        ("/oversize?chunked=1", "body larger than 1 MB"),
        ("/blob/bomb", "decompression bomb: 1.2e+09 pixels"),
        ("/loop/a", "redirect loop"),
        ("/redirect/5", "more than 3 redirects"),
        ("/bad-location", "invalid redirect Location 'http://[::1/x.jpg'"),
        ("/long-header", "malformed HTTP response (Got more than 8190 bytes when reading)"),  # not "HTTP 400"
    ],
)
def test_fault_ends_as_failed_row_with_reason(photo_server, tmp_path, path, error):
    # A stall timeout long enough that a busy machine's slow reply is not retried, which this test counts.
    row = one(photo_server, path, tmp_path, stall_timeout_s=5)
    assert (row["status"], row["error"], row["path"], row["sha256"]) == ("failed", error, None, None)
    assert row["attempts"] == 1  # none of these is worth a retry
    assert not (tmp_path / "images/train/3/391/traffickcam/1001.jpg").exists()
    assert_no_stray_files(tmp_path)


def test_only_a_failed_write_is_reported_as_one(photo_server, tmp_path):
    png = encode(halves((400, 300)), "PNG")
    photo_server.blobs["half-png"] = (png[: len(png) // 2], "image/png")
    requests = requests_for([photo_server.url("/blob/half-png"), photo_server.url("/blob/photo")])
    blocked = tmp_path / "images/train/-1/392/traffickcam"  # the second photo's folder is a file
    blocked.parent.mkdir(parents=True)
    blocked.write_bytes(b"")
    manifest = download_images(requests, tmp_path, fast())
    assert manifest["error"].to_list() == [
        "truncated image", "could not write images/train/-1/392/traffickcam/1002.jpg: Not a directory"]


def test_redirect_chain_within_limit_is_followed(photo_server, tmp_path):
    row = one(photo_server, "/redirect/2", tmp_path)  # three hops: the limit
    assert (row["status"], row["width"]) == ("ok", 640)


def test_500_then_success_is_retried(photo_server, tmp_path):
    row = one(photo_server, "/fail/500/a", tmp_path)
    assert (row["status"], row["attempts"]) == ("ok", 2)


def test_persistent_5xx_gives_up_after_retries(photo_server, tmp_path):
    row = one(photo_server, "/fail/503/b", tmp_path, retries=0)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "HTTP 503 after 1 attempts", 1)


def test_429_waits_for_retry_after(photo_server, tmp_path):
    start = time.monotonic()
    row = one(photo_server, "/fail/429/c?retry_after=1", tmp_path)
    assert (row["status"], row["attempts"]) == ("ok", 2)
    assert time.monotonic() - start >= 0.9


def test_other_4xx_is_not_retried(photo_server, tmp_path):
    row = one(photo_server, "/fail/403/d", tmp_path)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "HTTP 403", 1)
    assert photo_server.hits["403:d"] == 1


def test_stalled_body_times_out_and_is_retried(photo_server, tmp_path):
    start = time.monotonic()
    row = one(photo_server, "/stall", tmp_path)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "timeout after 2 attempts", 2)
    assert time.monotonic() - start < 5


def test_photos_waiting_for_a_busy_host_do_not_time_out_before_their_turn(photo_server, tmp_path):
    # One connection to the host, six photos of 0.4 s: the last waits ~2 s for its turn, longer than the
    # total timeout, which counts only its own request.
    urls = [photo_server.url("/blob/photo?delay=0.4")] * 6
    options = fast(per_host=1, max_in_flight=6, total_timeout_s=1.5, stall_timeout_s=5, retries=0)
    manifest = download_images(requests_for(urls), tmp_path, options)
    assert manifest["error"].to_list() == [None] * 6


def test_malformed_photo_url_fails_its_row(tmp_path):
    row = download_images(requests_for(["http://[::1/1001.jpg"]), tmp_path, fast()).row(0, named=True)
    assert (row["status"], row["error"]) == ("failed", "invalid URL (Invalid IPv6 URL)")


def test_octet_stream_is_judged_by_decoding(photo_server, tmp_path):
    assert one(photo_server, "/blob/octet", tmp_path)["status"] == "ok"


def test_metadata_address_is_refused_without_connecting(tmp_path):
    row = download_images(requests_for(["http://169.254.169.254/latest/meta-data/x.jpg"]), tmp_path, fast())
    assert row["status"][0] == "failed"
    assert "refused address 169.254.169.254" in row["error"][0]


def test_unreachable_host_is_a_connection_error(tmp_path):
    manifest = download_images(requests_for(["http://127.0.0.1:9/x.jpg"]), tmp_path, fast(retries=0))
    row = manifest.row(0, named=True)
    assert (row["status"], row["error"]) == ("failed", "connection refused or unreachable after 1 attempts")


def test_exif_orientation_applied(photo_server, tmp_path):
    row = one(photo_server, "/blob/exif6", tmp_path)
    # raw 400x200 with orientation 6 (rotate 90 cw): displayed 200x400, red half on top
    assert (row["width"], row["height"], row["orig_width"], row["orig_height"]) == (320, 640, 200, 400)
    with Image.open(tmp_path / row["path"]) as im:
        assert close(im.getpixel((160, 100)), RED)
        assert close(im.getpixel((160, 540)), BLUE)


@pytest.mark.parametrize("name", ["cmyk", "gray", "palette", "palette_t", "rgba"])
def test_colour_modes_become_rgb(photo_server, tmp_path, name):
    row = one(photo_server, f"/blob/{name}", tmp_path)
    assert row["status"] == "ok", row["error"]
    with Image.open(tmp_path / row["path"]) as im:
        assert (im.mode, im.format, max(im.size)) == ("RGB", "JPEG", 640)
        left, right = im.getpixel((20, im.height // 2)), im.getpixel((im.width - 20, im.height // 2))
    if name == "gray":
        assert left[0] == pytest.approx(left[1], abs=3) and left != right
    elif name in ("rgba", "palette_t"):
        assert close(left, RED) and close(right, (255, 255, 255), tol=10)  # transparency -> white
    else:
        assert close(left, RED) and close(right, BLUE)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("image_source", "../../../../tmp/evil", "unsafe path: image_source must match"),
        ("image_source", "a/b", "unsafe path: image_source must match"),
        ("image_id", "../../etc/passwd", "unsafe path: image_id must be an integer"),
        ("hotel_id", -5, "unsafe path: hotel_id out of range"),
        ("split", "../train", "unsafe path: split must be one of"),
    ],
)
def test_path_traversal_is_refused(photo_server, tmp_path, column, value, message):
    store = tmp_path / "store"
    requests = requests_for([photo_server.url("/blob/photo")])
    dtype = pl.Utf8 if isinstance(value, str) else pl.Int64
    requests = requests.with_columns(pl.Series(column, [value], dtype=dtype))
    row = download_images(requests, store, fast()).row(0, named=True)
    assert row["status"] == "failed" and row["error"].startswith(message), row["error"]
    assert photo_server.hits["photo"] == 0
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and store not in p.parents]
    assert outside == []


def test_file_urls_and_plain_paths(tmp_path):
    from photo_factories import jpeg

    mirror = tmp_path / "mirror dir"
    mirror.mkdir()
    (mirror / "a.jpg").write_bytes(jpeg((1024, 768)))
    (mirror / "b.jpg").write_bytes(jpeg((768, 1024)))
    urls = [(mirror / "a.jpg").as_uri(), str(mirror / "b.jpg"), str(mirror / "missing.jpg")]
    manifest = download_images(requests_for(urls), tmp_path / "store", fast(local_roots=(str(mirror),)))
    assert manifest["status"].to_list() == ["ok", "ok", "failed"]
    assert manifest["error"][2] == "file not found"
    assert list(zip(manifest["width"], manifest["height"], strict=True))[:2] == [(640, 480), (480, 640)]


def test_fetch_url_is_fetched_but_url_recorded(photo_server, tmp_path):
    requests = requests_for(["http://photos.example.invalid/1001.jpg"],
                            fetch_urls=[photo_server.url("/blob/photo")])
    row = download_images(requests, tmp_path, fast()).row(0, named=True)
    assert (row["status"], row["url"]) == ("ok", "http://photos.example.invalid/1001.jpg")


def test_rerun_reuses_verified_files_and_refetches_damaged_ones(photo_server, tmp_path):
    urls = [photo_server.url(f"/blob/{n}") for n in ("photo", "portrait", "small", "missing")]
    first = download_images(requests_for(urls), tmp_path, fast())
    assert first["status"].to_list() == ["ok", "ok", "ok", "failed"]
    damaged = tmp_path / first["path"][1]
    damaged.write_bytes(damaged.read_bytes()[:2000])  # as if something outside the pipeline broke it
    (damaged.parent / ".1002.jpg.stale.tmp.jpg").write_bytes(b"left by a killed run")
    hits_before = photo_server.hits.copy()

    second = download_images(requests_for(urls), tmp_path, fast())
    assert second["reused"].to_list() == [True, False, True, False]
    assert photo_server.hits["photo"] == hits_before["photo"]
    assert photo_server.hits["portrait"] == hits_before["portrait"] + 1
    stable = [c for c in second.columns if c not in ("reused", "attempts")]
    assert second.select(stable).equals(first.select(stable))
    assert_no_stray_files(tmp_path)


def test_changing_upscale_refetches_small_photos(photo_server, tmp_path):
    urls = [photo_server.url("/blob/photo"), photo_server.url("/blob/small")]
    download_images(requests_for(urls), tmp_path, fast(upscale=True))
    second = download_images(requests_for(urls), tmp_path, fast(upscale=False))
    assert second["reused"].to_list() == [True, False]
    assert second["width"].to_list() == [640, 320]


def test_manifest_is_sorted_by_image_id_and_deterministic(photo_server, tmp_path):
    urls = [photo_server.url(f"/blob/photo?delay={d}") for d in (0.2, 0, 0.1)]
    requests = requests_for(urls).with_columns(pl.Series("image_id", [30, 10, 20]))
    a = download_images(requests, tmp_path / "a", fast())
    b = download_images(requests, tmp_path / "b", fast())
    assert a["image_id"].to_list() == [10, 20, 30]
    assert a.equals(b)


def test_progress_reports_counts(photo_server, tmp_path):
    events: list[ProgressEvent] = []
    urls = [photo_server.url("/blob/photo"), photo_server.url("/blob/missing")]
    download_images(requests_for(urls), tmp_path, fast(), progress=events.append)
    final = events[-1]
    assert final.final
    assert (final.done, final.ok, final.failed, final.remaining) == (2, 1, 1, 0)
    assert final.rate_per_s > 0
    assert final.describe().startswith("photos: 2/2 done, 1 failed, 0 reused, 0 left, ")
    assert len(events) >= 2  # interval 0: every image reports


def test_missing_request_column_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="lack columns"):
        download_images(requests_for(["x"]).drop("split"), tmp_path, fast())


def test_worker_processes_give_the_same_manifest_as_one_process(photo_server, tmp_path):
    names = ("photo", "exif6", "truncated", "bomb", "palette_t", "missing")
    urls = [photo_server.url(f"/blob/{n}") for n in names] + ["", "http://x/1.jpg"]
    requests = requests_for(urls).with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("../../etc")).otherwise("image_source")
        .alias("image_source"))
    events: list[dict] = []
    single = download_images(requests, tmp_path / "one", fast(processes=1))
    spread = download_images(requests, tmp_path / "two", fast(processes=2), progress=events.append)
    assert spread.equals(single)
    assert spread["status"].to_list() == ["ok", "ok", "failed", "failed", "ok", "failed", "failed", "failed"]
    assert spread["error"][6] == "no URL" and spread["error"][7].startswith("unsafe path: image_source")
    final = events[-1]
    assert (final.final, final.done, final.ok) == (True, 8, 3)


def test_work_handed_out_in_many_small_shares_is_all_stored_once(photo_server, tmp_path):
    # One request in flight per process keeps each only two photos ahead, so the 12 folders go out over
    # many top-ups, while the workers run.
    urls = [photo_server.url(f"/blob/{'photo' if i % 2 else 'portrait'}") for i in range(36)]
    requests = requests_for(urls).with_columns((pl.col("image_id") % 12).alias("hotel_id"))
    single = download_images(requests, tmp_path / "one", fast(processes=1))
    spread = download_images(requests, tmp_path / "two", fast(processes=2, max_in_flight=2))
    assert spread["status"].to_list() == ["ok"] * 36
    assert spread.equals(single)


def test_workers_left_without_work_exit_and_the_rest_is_stored(photo_server, tmp_path):
    # Workers start before the rows are checked and grouped: one folder is work for one of three workers,
    # and rows that are all unusable give none any.
    one_folder = requests_for([photo_server.url("/blob/photo")] * 3).with_columns(
        pl.lit(391, dtype=pl.Int64).alias("hotel_id"), pl.lit(3, dtype=pl.Int64).alias("chain_id"))
    manifest = download_images(one_folder, tmp_path / "one", fast(processes=3))
    assert manifest["status"].to_list() == ["ok"] * 3
    unusable = download_images(requests_for(["", "", ""]), tmp_path / "none", fast(processes=2))
    assert unusable["error"].to_list() == ["no URL"] * 3


def test_resample_filter_is_configurable(photo_server, tmp_path):
    area = one(photo_server, "/blob/photo", tmp_path / "a")
    lanczos = one(photo_server, "/blob/photo", tmp_path / "l", resample="lanczos")
    assert (area["width"], area["height"]) == (lanczos["width"], lanczos["height"])
    assert area["sha256"] != lanczos["sha256"]


def test_empty_request_table_gives_empty_manifest(tmp_path):
    manifest = download_images(requests_for([]), tmp_path, fast())
    assert manifest.height == 0 and manifest.schema == pl.Schema(MANIFEST_SCHEMA)
