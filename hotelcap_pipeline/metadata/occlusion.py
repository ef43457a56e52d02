"""The upstream test set's photo tree: occlusion level and mask per test photo.

The test photos ship apart from the metadata, as ``test.tar.lz4`` (extracted safely by
``metadata.extract.extract_archive``), laid out as
``images/test/<occlusion>/<chain_id>/<hotel_id>/<image_source>/<image_id>.jpg`` with the occluded folders
also holding ``masks/<image_id>.png``. ``index_test_tree`` reads that layout back into a table that
``with_occlusion`` joins onto ``test_images``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

OCCLUSIONS = ("unoccluded", "low_occlusions", "medium_occlusions", "high_occlusions")
INDEX_SCHEMA = {
    "image_id": pl.Int64,
    "hotel_id": pl.Int64,
    "chain_id": pl.Int64,
    "image_source": pl.Utf8,
    "occlusion": pl.Utf8,
    "path": pl.Utf8,
    "mask_path": pl.Utf8,
}


def index_test_tree(root: Path) -> tuple[pl.DataFrame, list[str]]:
    """(one row per test photo under ``root/images/test``, the paths that do not fit the layout).

    Paths are relative to ``root``; ``mask_path`` is null for unoccluded photos and photos without a mask.
    """
    root = Path(root)
    base = root / "images" / "test"
    rows: list[dict[str, object]] = []
    odd: list[str] = []
    for photo in sorted(base.rglob("*.jpg")) if base.is_dir() else []:
        parts = photo.relative_to(base).parts
        if len(parts) != 5 or parts[0] not in OCCLUSIONS:
            odd.append(str(photo.relative_to(root)))
            continue
        occlusion, chain, hotel, source, name = parts
        try:
            image_id, hotel_id, chain_id = int(Path(name).stem), int(hotel), int(chain)
        except ValueError:
            odd.append(str(photo.relative_to(root)))
            continue
        mask = base / occlusion / "masks" / f"{image_id}.png"
        rows.append(
            {
                "image_id": image_id,
                "hotel_id": hotel_id,
                "chain_id": chain_id,
                "image_source": source,
                "occlusion": occlusion,
                "path": str(photo.relative_to(root)),
                "mask_path": str(mask.relative_to(root)) if mask.is_file() else None,
            }
        )
    return pl.DataFrame(rows, schema=INDEX_SCHEMA), odd


def with_occlusion(test_images: pl.DataFrame, index: pl.DataFrame) -> pl.DataFrame:
    """``test_images`` with the ``occlusion`` and ``mask_path`` of each photo (null where not in the tree)."""
    extra = index.select("image_id", "occlusion", "mask_path").unique("image_id", keep="first")
    return test_images.join(extra, on="image_id", how="left", maintain_order="left")
