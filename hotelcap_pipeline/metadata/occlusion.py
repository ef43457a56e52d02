"""The upstream test set's photo tree: occlusion level and mask per test photo.

The test photos ship apart from the metadata, as ``test.tar.lz4`` (extracted safely by
``metadata.extract.extract_archive``), laid out as
``images/test/<occlusion>/<chain_id>/<hotel_id>/<image_source>/<image_id>.jpg``. The occluded folders also
hold the people-shaped mask of each photo, as ``<occlusion>/masks/<image_id>.png`` or, as the upstream
README words it, beside the photo in ``<occlusion>/<chain_id>/<hotel_id>/<image_source>/masks/<image_id>.png``;
both are read. The occluded levels are versions of the same test photos, so one photo may be in several
levels.

``install_test_tree`` extracts an archive into the data store's ``images/test/<occlusion>/`` (the upstream
tree, beside the photo stage's own ``images/test/<chain_id>/`` photos), ``index_test_tree`` reads the
layout back into one row per (photo, level), and ``with_occlusion`` joins it onto ``test_images``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

from hotelcap_pipeline.atomic_files import atomic_write_text
from hotelcap_pipeline.metadata.extract import ExtractLimits, archive_stamp, extract_archive
from hotelcap_pipeline.store import write_parquet_atomic

# Least to most occluded: a photo held at several levels is described by the first.
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
# Columns ``with_occlusion`` adds to test_images (all null without a tree, so the schema never changes).
OCCLUSION_COLUMNS: dict[str, pl.DataType] = {
    "occlusion": pl.Utf8(),
    "occlusions": pl.List(pl.Utf8),
    "photo_path": pl.Utf8(),
    "mask_path": pl.Utf8(),
}
# Where a tree may sit under the folder given: the archive's own ``images/test``, or an archive made of
# the ``images`` folder (``test/...``, as upstream suggests decompressing it inside ``images/``).
_TREE_PLACES = (("images", "test"), ("test",), ())


class TestTreeError(ValueError):
    """The test-photo archive or folder holds no ``images/test/<occlusion>/`` tree."""

    __test__ = False  # not a pytest test class, despite the name


def find_test_base(root: Path) -> Path | None:
    """The folder holding the occlusion folders under ``root`` (``images/test``, ``test`` or ``root``)."""
    for place in _TREE_PLACES:
        base = Path(root).joinpath(*place)
        if any((base / occlusion).is_dir() for occlusion in OCCLUSIONS):
            return base
    return None


def index_test_tree(root: Path) -> tuple[pl.DataFrame, list[str]]:
    """(one row per test photo and occlusion level under ``root``, the files that do not fit the layout).

    Only the occlusion folders are read (the photo stage's ``images/test/<chain_id>/`` photos are not part of
    the tree); hidden files are ignored. Paths are relative to ``root``; ``mask_path`` is null for unoccluded
    photos and photos without a mask.
    """
    root = Path(root)
    base = find_test_base(root)
    rows: list[dict[str, object]] = []
    odd: list[str] = []
    if base is None:
        return pl.DataFrame(rows, schema=INDEX_SCHEMA), odd
    for occlusion in OCCLUSIONS:
        level = base / occlusion
        photos: list[tuple[Path, tuple[str, ...]]] = []
        masks: dict[tuple[str, ...], Path] = {}  # (folder of the photo or "", image id) -> mask
        for file in sorted(p for p in level.rglob("*") if p.is_file()) if level.is_dir() else []:
            parts = file.relative_to(level).parts
            if any(p.startswith(".") for p in parts):
                continue
            if _is_mask(parts):
                masks[(*parts[:-2], Path(parts[-1]).stem)] = file
            elif len(parts) == 4 and file.suffix.lower() in (".jpg", ".jpeg") and _ids(parts) is not None:
                photos.append((file, parts))
            else:
                odd.append(file.relative_to(root).as_posix())
        for file, parts in photos:
            chain_id, hotel_id, image_id = _ids(parts)  # type: ignore[misc]
            mask = masks.get((*parts[:3], str(image_id))) or masks.get((str(image_id),))
            rows.append(
                {
                    "image_id": image_id,
                    "hotel_id": hotel_id,
                    "chain_id": chain_id,
                    "image_source": parts[2],
                    "occlusion": occlusion,
                    "path": file.relative_to(root).as_posix(),
                    "mask_path": mask.relative_to(root).as_posix() if mask is not None else None,
                }
            )
    return pl.DataFrame(rows, schema=INDEX_SCHEMA), odd


def _is_mask(parts: tuple[str, ...]) -> bool:
    # <level>/masks/<id>.png, or <level>/<chain>/<hotel>/<source>/masks/<id>.png
    return (
        len(parts) in (2, 5)
        and parts[-2] == "masks"
        and parts[-1].lower().endswith(".png")
        and Path(parts[-1]).stem.isdigit()
        and (len(parts) == 2 or _ids((*parts[:3], "0.jpg")) is not None)
    )


def _ids(parts: tuple[str, ...]) -> tuple[int, int, int] | None:
    """(chain_id, hotel_id, image_id) of ``<chain>/<hotel>/<source>/<id>.jpg``, or None when not integers."""
    try:
        chain, hotel, image = int(parts[0]), int(parts[1]), int(Path(parts[3]).stem)
    except ValueError:
        return None
    return (chain, hotel, image) if chain >= -1 and hotel >= 0 and image >= 0 else None


def empty_index() -> pl.DataFrame:
    return pl.DataFrame(schema=INDEX_SCHEMA)


def with_occlusion(test_images: pl.DataFrame, index: pl.DataFrame) -> pl.DataFrame:
    """``test_images`` with, per photo, the least occluded level the tree holds it at (``occlusion``), every
    level it is held at (``occlusions``), and that level's ``photo_path`` and ``mask_path``; null where the
    photo is not in the tree. One row per test_images row, whatever the tree holds."""
    rank = {name: i for i, name in enumerate(OCCLUSIONS)}
    per_photo = (
        index.with_columns(pl.col("occlusion").replace_strict(rank, return_dtype=pl.Int32).alias("_rank"))
        .sort("image_id", "_rank", "path")
        .group_by("image_id", maintain_order=True)
        .agg(
            pl.col("occlusion").first(),
            pl.col("occlusion").unique(maintain_order=True).alias("occlusions"),
            pl.col("path").first().alias("photo_path"),
            pl.col("mask_path").first(),
        )
    )
    joined = test_images.drop([c for c in OCCLUSION_COLUMNS if c in test_images.columns])
    joined = joined.join(per_photo, on="image_id", how="left", maintain_order="left")
    return joined.with_columns(pl.col(c).cast(t) for c, t in OCCLUSION_COLUMNS.items())


def occlusion_counts(index: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Photos and masks per occlusion level (every level named, zeros included)."""
    photos = dict(index.group_by("occlusion").len().iter_rows())
    masks = dict(index.filter(pl.col("mask_path").is_not_null()).group_by("occlusion").len().iter_rows())
    return {
        "photos": {level: int(photos.get(level, 0)) for level in OCCLUSIONS},
        "masks": {level: int(masks.get(level, 0)) for level in OCCLUSIONS},
    }


@dataclass(frozen=True)
class TestTree:
    """An indexed test-photo tree: ``index`` paths are relative to the data store root when the tree is in
    the store, absolute otherwise (a folder given as is); ``index_file`` keeps the index of an extracted
    archive (every level's photo and mask)."""

    __test__ = False

    index: pl.DataFrame
    outside_layout: list[str] = field(default_factory=list)
    reused: bool = False
    index_file: Path | None = None


_INDEX_FILE = "test_photos.parquet"
_MARKER_FILE = "test_photos.extracted.json"


def install_test_tree(archive: Path, store_root: Path, state_dir: Path,
                      limits: ExtractLimits | None = None) -> TestTree:
    """Extract a test-photo archive into ``store_root/images/test/<occlusion>/`` and index it.

    Done once per archive version: ``state_dir`` keeps the index and a marker naming the archive's path, size
    and mtime, and a rerun with the same archive reads them back. The archive is extracted (every member
    checked first, see ``extract_archive``) into a hidden folder beside the tree; each occlusion folder then
    replaces the stored one by a rename. Files outside the occlusion folders are listed as not fitting the
    layout and not kept. A killed run leaves no marker, so the next run extracts again.
    """
    archive, store_root, state_dir = Path(archive), Path(store_root), Path(state_dir)
    stamp = archive_stamp(archive)
    marker, index_file = state_dir / _MARKER_FILE, state_dir / _INDEX_FILE
    target = store_root / "images" / "test"
    if marker.is_file() and index_file.is_file():
        saved = json.loads(marker.read_text())
        index = pl.read_parquet(index_file)
        if saved.get("stamp") == stamp and all((store_root / p).is_file() for p in _one_per_level(index)):
            return TestTree(index, list(saved.get("outside_layout", [])), reused=True, index_file=index_file)
    staging = store_root / "images" / ".test-photos-new"
    for leftover in staging.parent.glob(".*test-photos-new*"):  # a killed run's, never the live tree
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        report = extract_archive(archive, staging, limits)
        base = find_test_base(staging)
        if base is None:
            raise TestTreeError(f"{archive}: no images/test/<occlusion>/ folders (expected some of "
                                f"{', '.join(OCCLUSIONS)})")
        levels = {occlusion for occlusion in OCCLUSIONS if (base / occlusion).is_dir()}
        inside = [PurePosixPath((base / o).relative_to(staging).as_posix()) for o in levels]
        outside = sorted(name for name in report.extracted
                         if not any(p in PurePosixPath(name).parents for p in inside))
        target.mkdir(parents=True, exist_ok=True)
        # Until the new tree is in place, the old marker would describe a half-replaced tree.
        marker.unlink(missing_ok=True)
        for occlusion in OCCLUSIONS:
            _replace(base / occlusion if occlusion in levels else None, target / occlusion)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    index, odd = index_test_tree(store_root)
    tree = TestTree(index, odd + outside, index_file=index_file)
    state_dir.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(index, index_file)
    atomic_write_text(marker, json.dumps({"stamp": stamp, "outside_layout": tree.outside_layout}))
    return tree


def _one_per_level(index: pl.DataFrame) -> list[str]:
    # A cheap check that the tree the index describes is still there: one photo of each level.
    return index.unique("occlusion", keep="first", maintain_order=True).get_column("path").to_list()


def _replace(new: Path | None, old: Path) -> None:
    """Put ``new`` (or nothing) where ``old`` is, by renames: the old folder is removed only once moved aside."""
    aside = old.with_name(f".{old.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    if old.exists():
        old.rename(aside)
    if new is not None:
        new.rename(old)
    shutil.rmtree(aside, ignore_errors=True)


def index_test_folder(folder: Path, store_root: Path) -> TestTree:
    """Index a tree already on disk where it is (nothing is copied): paths relative to the store root when
    the folder is inside the store, absolute otherwise."""
    folder, store_root = Path(folder).resolve(), Path(store_root).resolve()
    if find_test_base(folder) is None:
        raise TestTreeError(f"{folder}: no images/test/<occlusion>/ folders (expected some of "
                            f"{', '.join(OCCLUSIONS)})")
    index, odd = index_test_tree(folder)

    def where(rel: str) -> str:
        full = folder / rel
        return full.relative_to(store_root).as_posix() if full.is_relative_to(store_root) else str(full)

    index = index.with_columns(
        pl.col(c).map_elements(where, return_dtype=pl.Utf8) for c in ("path", "mask_path")
    )
    return TestTree(index, [where(p) for p in odd])
