"""Hostile inputs to the downloaders: compressed bombs, local files without consent, FIFOs and devices,
stalled servers, URLs that can never work."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest
from helpers_photos import fast, requests_for
from photo_factories import jpeg

from hotelcap_pipeline.http import DownloadError, download_file
from hotelcap_pipeline.photos import download_images
from hotelcap_pipeline.photos.fetch import local_file_roots
from hotelcap_pipeline.settings import parse_allow_local_files


def test_compressed_body_is_capped_after_decoding(photo_server, tmp_path):
    row = download_images(requests_for([photo_server.url("/gzip-bomb")]), tmp_path, fast()).row(0, named=True)
    assert row["status"] == "failed"
    assert row["error"] == "body larger than 1 MB"
    assert photo_server.accept_encodings == ["identity"]


def test_archive_download_is_capped(photo_server, tmp_path):
    photo_server.archive = tmp_path / "served.tar.gz"
    photo_server.archive.write_bytes(os.urandom(300_000))
    dest = tmp_path / "raw" / "dataset.tar.gz"
    with pytest.raises(DownloadError, match=r"archive\.tar\.gz: larger than 0\.1 MB"):
        download_file(photo_server.url("/archive.tar.gz"), dest, max_bytes=100_000)
    assert not dest.exists()
    assert photo_server.hits["archive"] == 1  # too large is final: not retried


def _mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.jpg").write_bytes(jpeg((800, 600)))
    return mirror


def test_local_files_are_refused_without_consent(tmp_path):
    mirror = _mirror(tmp_path)
    urls = [(mirror / "a.jpg").as_uri(), str(mirror / "a.jpg")]
    manifest = download_images(requests_for(urls), tmp_path / "store", fast())
    assert manifest["status"].to_list() == ["failed", "failed"]
    assert all(e.startswith("local file refused: the dataset is remote; set HOTELCAP_ALLOW_LOCAL_FILES=1")
               for e in manifest["error"])
    assert not list((tmp_path / "store").rglob("*.jpg"))


def test_local_files_outside_the_allowed_folders_are_refused(tmp_path):
    mirror = _mirror(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.jpg").write_bytes(jpeg((800, 600)))
    (mirror / "link.jpg").symlink_to(elsewhere / "b.jpg")  # a link inside does not lead outside
    urls = [str(mirror / "a.jpg"), str(elsewhere / "b.jpg"), str(mirror / "link.jpg"), f"{mirror}/../elsewhere/b.jpg"]
    manifest = download_images(requests_for(urls), tmp_path / "store", fast(local_roots=(str(mirror),)))
    assert manifest["status"].to_list() == ["ok", "failed", "failed", "failed"]
    assert all(e.startswith("local file outside the allowed folders") for e in manifest["error"][1:])


def test_fifo_and_devices_are_refused_at_once(tmp_path):
    mirror = _mirror(tmp_path)
    os.mkfifo(mirror / "pipe.jpg")  # no writer: a blocking open would wait forever
    start = time.monotonic()
    manifest = download_images(requests_for([str(mirror / "pipe.jpg"), "/dev/zero"]), tmp_path / "store",
                               fast(local_roots=("/",)))
    assert time.monotonic() - start < 10
    assert manifest["status"].to_list() == ["failed", "failed"]
    assert manifest["error"].to_list() == ["file not readable (not a regular file)"] * 2


def test_local_file_over_the_cap_is_refused(tmp_path):
    mirror = _mirror(tmp_path)
    (mirror / "big.jpg").write_bytes(jpeg((800, 600)) + b"\0" * 1_100_000)
    row = download_images(requests_for([str(mirror / "big.jpg")]), tmp_path / "store",
                          fast(local_roots=(str(mirror),))).row(0, named=True)
    assert (row["status"], row["error"]) == ("failed", "file larger than 1 MB")


def test_local_file_roots_come_from_consent_or_a_local_dataset(tmp_path):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    assert local_file_roots("https://example.org/dataset.tar.gz") == ()
    assert local_file_roots("https://example.org/dataset.tar.gz", ("/srv/photos",)) == ("/srv/photos",)
    assert local_file_roots(str(dataset)) == (str(dataset),)
    assert local_file_roots(str(tmp_path / "dataset.tar.gz")) == (str(tmp_path),)


def test_allow_local_files_variable(tmp_path):
    assert parse_allow_local_files("") == () and parse_allow_local_files("0") == ()
    assert parse_allow_local_files("1") == ("/",)
    assert parse_allow_local_files(f"{tmp_path}{os.pathsep}{tmp_path}/") == (str(tmp_path), str(tmp_path))
    with pytest.raises(ValueError, match=r"HOTELCAP_ALLOW_LOCAL_FILES=.*not a folder: /no/such/folder"):
        parse_allow_local_files("/no/such/folder")


def test_a_silent_server_is_reported_and_given_up(photo_server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="hotelcap_pipeline.http")
    dest = tmp_path / "raw" / "dataset.tar.gz"
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"failed after 2 attempts: timeout \(partial data kept"):
        download_file(photo_server.url("/silent.tar.gz"), dest, attempts=2, stall_s=0.5)
    assert time.monotonic() - start < 10
    assert photo_server.hits["silent"] == 2
    assert any("attempt 1 failed (timeout); retrying" in r.getMessage() for r in caplog.records)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failure_message_names_no_partial_file_that_does_not_exist(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/dataset.tar.gz"
    with pytest.raises(DownloadError) as info:
        download_file(url, tmp_path / "dataset.tar.gz", attempts=2)
    assert "connection refused" in str(info.value)
    assert ".part" not in str(info.value)


@pytest.mark.parametrize("url", ["http:///dataset.tar.gz", "http://[::1/dataset.tar.gz", "gopher://x/y"])
def test_invalid_url_is_not_retried(tmp_path, url):
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_file(url, tmp_path / "dataset.tar.gz", attempts=4)
    assert time.monotonic() - start < 2
    assert str(info.value).startswith(f"{url}: ")


def test_invalid_photo_url_is_tried_once(tmp_path):
    row = download_images(requests_for(["http:///1001.jpg"]), tmp_path, fast(retries=3)).row(0, named=True)
    assert row["status"] == "failed" and row["attempts"] == 1, row
    assert row["error"].startswith("invalid URL")
