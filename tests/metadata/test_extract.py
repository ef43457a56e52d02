import io
import shutil
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from hotelcap_pipeline.metadata.extract import JUNK_EXAMPLES, ExtractLimits, UnsafeArchiveError, extract_archive
from hotelcap_pipeline.metadata.parse import find_csv_folder
from hotelcap_pipeline.metadata.source import resolve_dataset
from hotelcap_pipeline.settings import DEMO_DIR


def add_file(tar: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_tar(path: Path, build) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        build(tar)
    return path


def demo_archive(tmp_path: Path, extra=None) -> Path:
    def build(tar):
        for csv in sorted((DEMO_DIR / "dataset").glob("*.csv")):
            tar.add(csv, arcname=f"dataset/{csv.name}")
        add_file(tar, "__MACOSX/dataset/._train_set.csv")
        add_file(tar, "dataset/._hotel_info.csv")
        add_file(tar, "dataset/.DS_Store")
        if extra:
            extra(tar)

    return make_tar(tmp_path / "dataset.tar.gz", build)


def test_archive_is_extracted_and_junk_skipped(tmp_path):
    report = extract_archive(demo_archive(tmp_path), tmp_path / "out")
    assert sorted(report.extracted) == sorted(f"dataset/{p.name}" for p in (DEMO_DIR / "dataset").glob("*.csv"))
    assert len(report.skipped_junk) == 3
    assert find_csv_folder(tmp_path / "out") == tmp_path / "out" / "dataset"


@pytest.mark.parametrize(
    "name, match",
    [("../evil.csv", r"climbs out"), ("dataset/../../evil.csv", r"climbs out"), ("/tmp/evil.csv", "absolute")],
)
def test_escaping_members_are_refused_and_nothing_is_written(tmp_path, name, match):
    archive = demo_archive(tmp_path, lambda tar: add_file(tar, name, b"pwned"))
    target = tmp_path / "sub" / "out"
    with pytest.raises(UnsafeArchiveError, match=match):
        extract_archive(archive, target)
    assert not target.exists()
    assert not (tmp_path / "evil.csv").exists() and not (tmp_path / "sub" / "evil.csv").exists()
    assert not Path("/tmp/evil.csv").exists() or Path("/tmp/evil.csv").read_bytes() != b"pwned"
    assert list((tmp_path / "sub").iterdir()) == []  # staging folder removed too


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_links_are_refused(tmp_path, kind):
    def link(tar):
        info = tarfile.TarInfo("dataset/passwd")
        info.type = kind
        info.linkname = "/etc/passwd"
        tar.addfile(info)

    with pytest.raises(UnsafeArchiveError, match="is a link"):
        extract_archive(demo_archive(tmp_path, link), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_traversal_is_refused(tmp_path):
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dataset/chain_info.csv", "chain_id,chain_name\n")
        zf.writestr("../../evil.csv", "pwned")
    with pytest.raises(UnsafeArchiveError):
        extract_archive(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _corrupt_zip(tmp_path: Path) -> Path:
    path = tmp_path / "dataset.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(DEMO_DIR / "dataset" / "train_set.csv", "dataset/train_set.csv")
    data = bytearray(path.read_bytes())
    data[200:400] = bytes(b ^ 0x55 for b in data[200:400])  # inside the entry's compressed bytes
    path.write_bytes(bytes(data))
    return path


def _truncated_tar_gz(tmp_path: Path) -> Path:
    path = demo_archive(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


@pytest.mark.parametrize("make, kind", [(_truncated_tar_gz, "tar archive"), (_corrupt_zip, "zip archive")])
def test_a_truncated_or_corrupt_archive_is_named_with_what_to_do(tmp_path, make, kind):
    archive = make(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=rf"^{archive}: not a readable {kind}, truncated or corrupt \(.*\); "
                                                 r"replace it with a complete copy") as caught:
        extract_archive(archive, tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_resolve_dataset_extracts_once(tmp_path):
    archive = demo_archive(tmp_path)
    raw = tmp_path / "raw"
    folder = resolve_dataset(str(archive), raw)
    marker_time = (raw / "extracted" / ".hotelcap-extracted.json").stat().st_mtime_ns
    assert resolve_dataset(f"file://{archive}", raw) == folder
    assert (raw / "extracted" / ".hotelcap-extracted.json").stat().st_mtime_ns == marker_time
    assert (folder / "train_set.csv").exists()


@pytest.mark.parametrize("damage", ["folder deleted", "file deleted", "file truncated"])
def test_resolve_dataset_extracts_again_when_extracted_files_are_gone(tmp_path, damage):
    archive = demo_archive(tmp_path)
    raw = tmp_path / "raw"
    folder = resolve_dataset(str(archive), raw)
    expected = (folder / "train_set.csv").read_bytes()
    if damage == "folder deleted":
        shutil.rmtree(folder)
    elif damage == "file deleted":
        (folder / "train_set.csv").unlink()
    else:
        (folder / "train_set.csv").write_bytes(expected[:10])
    assert resolve_dataset(str(archive), raw) == folder
    assert (folder / "train_set.csv").read_bytes() == expected


def test_zip_symlink_is_refused(tmp_path):
    path = tmp_path / "d.zip"
    link = zipfile.ZipInfo("dataset/passwd")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dataset/chain_info.csv", "chain_id,chain_name\n")
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match=r"d\.zip: member 'dataset/passwd' is a link \(to '/etc/passwd'\)"):
        extract_archive(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_huge_zip_entry_marked_as_a_link_is_refused_without_unpacking_it(tmp_path):
    path = tmp_path / "d.zip"
    link = zipfile.ZipInfo("dataset/link")
    link.external_attr = 0o120777 << 16
    link.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf, zf.open(link, "w", force_zip64=True) as out:
        for _ in range(64):
            out.write(bytes(1 << 20))  # 64 MB of zeros, ~64 KB packed
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeArchiveError, match="'dataset/link' is a link"):
            extract_archive(path, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


@pytest.mark.parametrize("kind", [tarfile.FIFOTYPE, tarfile.CHRTYPE])
def test_special_files_are_refused(tmp_path, kind):
    def special(tar):
        info = tarfile.TarInfo("dataset/device")
        info.type = kind
        tar.addfile(info)

    with pytest.raises(UnsafeArchiveError, match=r"member 'dataset/device' is not a regular file or folder"):
        extract_archive(demo_archive(tmp_path, special), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_zip_is_extracted_and_junk_skipped(tmp_path):
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dataset/", "")
        zf.writestr("./dataset/chain_info.csv", "chain_id,chain_name\n")
        zf.writestr("__MACOSX/dataset/._chain_info.csv", "junk")
    report = extract_archive(path, tmp_path / "out")
    assert report.extracted == ["dataset/chain_info.csv"]
    assert report.skipped_junk == ["__MACOSX/dataset/._chain_info.csv"]
    assert (tmp_path / "out" / "dataset" / "chain_info.csv").read_text() == "chain_id,chain_name\n"


def _junk_tar(path: Path, junk: int) -> Path:
    def build(tar):
        for i in range(junk):
            add_file(tar, f"__MACOSX/dataset/._{i}.csv", b"")
        add_file(tar, "dataset/chain_info.csv", b"chain_id,chain_name\n-1,unknown\n")

    return make_tar(path, build)


def test_junk_members_count_toward_the_member_limit(tmp_path):
    archive = _junk_tar(tmp_path / "junk.tar.gz", 50)
    with pytest.raises(UnsafeArchiveError, match="more than 20 members; refused"):
        extract_archive(archive, tmp_path / "out", ExtractLimits(max_members=20))
    assert not (tmp_path / "out").exists()


def test_junk_members_are_counted_with_a_few_named(tmp_path):
    report = extract_archive(_junk_tar(tmp_path / "junk.tar.gz", 50), tmp_path / "out")
    assert report.extracted == ["dataset/chain_info.csv"]
    assert report.junk_count == 50
    assert report.skipped_junk == [f"__MACOSX/dataset/._{i}.csv" for i in range(JUNK_EXAMPLES)]


def test_member_modes_are_sanitised_by_the_data_filter(tmp_path):
    def setuid(tar):
        info = tarfile.TarInfo("dataset/tool")
        info.mode = 0o4777
        tar.addfile(info, io.BytesIO(b""))

    extract_archive(demo_archive(tmp_path, setuid), tmp_path / "out")
    assert (tmp_path / "out" / "dataset" / "tool").stat().st_mode & 0o7777 == 0o755


def _bomb_tar(path: Path, members: dict[str, int]) -> Path:
    def build(tar):
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"\0" * size))

    return make_tar(path, build)


@pytest.mark.parametrize(
    "limits, members, match",
    [
        (ExtractLimits(max_total_bytes=3_000_000), {"dataset/a.csv": 2_000_000, "dataset/b.csv": 2_000_000},
         r"unpacks to more than 3\.0 MB"),
        (ExtractLimits(max_member_bytes=1_000_000), {"dataset/a.csv": 2_000_000},
         r"member 'dataset/a\.csv' unpacks to 2\.0 MB, more than the 1\.0 MB allowed per member"),
        (ExtractLimits(max_members=3), {f"dataset/{n}.csv": 1 for n in range(5)}, "more than 3 members"),
        (ExtractLimits(), {"dataset/train_set.csv": 30_000_000}, r"a ratio above 100"),
    ],
)
def test_archive_limits_refuse_before_writing_anything(tmp_path, limits, members, match):
    archive = _bomb_tar(tmp_path / "bomb.tar.gz", members)
    target = tmp_path / "sub" / "out"
    with pytest.raises(UnsafeArchiveError, match=match):
        extract_archive(archive, target, limits)
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []


def test_zip_limits_apply_too(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dataset/train_set.csv", b"\0" * 30_000_000)
    with pytest.raises(UnsafeArchiveError, match="ratio above 100"):
        extract_archive(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_default_limits_let_a_real_sized_archive_through(tmp_path):
    # The real archive's largest member is 141 MB of CSV at a ratio near 5; a member of that shape, scaled
    # down, passes the default limits.
    rows = b"".join(b"%d,12,https://example.org/%08x_b.jpg,traffickcam,2016-05-01 10:00:00\n" % (i, i * 7919)
                    for i in range(200_000))
    archive = _bomb_tar(tmp_path / "dataset.tar.gz", {})
    with tarfile.open(archive, "w:gz") as tar:
        add_file(tar, "dataset/train_set.csv", rows)
    report = extract_archive(archive, tmp_path / "out")
    assert report.extracted == ["dataset/train_set.csv"]
    assert (tmp_path / "out" / "dataset" / "train_set.csv").stat().st_size == len(rows)


def test_an_unreachable_dataset_says_which_variable_to_set(tmp_path):
    from hotelcap_pipeline.http import DownloadError

    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    with pytest.raises(DownloadError, match="set HOTELCAP_DATASET to a local copy"):
        resolve_dataset("http://127.0.0.1:9/dataset.tar.gz", tmp_path / "raw")


def test_a_file_url_naming_another_host_is_refused_not_read_locally(tmp_path):
    from hotelcap_pipeline.metadata.parse import DatasetError

    archive = tmp_path / "dataset.tar.gz"
    archive.write_bytes(b"not read")
    with pytest.raises(DatasetError, match=f"^HOTELCAP_DATASET=file://fileserver{archive}: file URLs must name a "
                                           "local path; set it to an http"):
        resolve_dataset(f"file://fileserver{archive}", tmp_path / "raw")
