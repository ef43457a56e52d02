"""summarize_manifest and contact_sheet on a real download."""

from __future__ import annotations

from helpers_photos import fast, requests_for

from hotelcap_pipeline.photos import contact_sheet, download_images, summarize_manifest


def test_summary_and_contact_sheet(photo_server, tmp_path):
    names = ["photo", "photo", "portrait", "missing", "html", "missing"]
    urls = [photo_server.url(f"/blob/{n}") for n in names]
    manifest = download_images(requests_for(urls), tmp_path, fast())
    summary = summarize_manifest(manifest)
    assert (summary["requested"], summary["ok"], summary["failed"], summary["reused"]) == (6, 3, 3, 0)
    assert summary["failure_reasons"] == {"HTTP 404": 2, "not an image (text/html)": 1}
    assert summary["distinct_sizes"] == 2
    assert summary["top_sizes"] == {"640x480": 2, "320x640": 1}

    sheet = contact_sheet(manifest, tmp_path, max_images=24, thumb=50)
    assert sheet.size == (3 * 52 + 2, 52 + 2)
    assert sheet.getpixel((2 + 25, 2 + 25)) != (255, 255, 255)  # first tile holds a photo
