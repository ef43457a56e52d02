"""The report renders every section from small hand-made tables, and says so when a table is missing."""

from __future__ import annotations

import io
import json
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from hotelcap_pipeline.criteria import auc_interval
from hotelcap_pipeline.report import ReportContext, build_report
from hotelcap_pipeline.report.document import Bullets
from hotelcap_pipeline.report.render import markdown_html
from hotelcap_pipeline.report.tables import ReportTables
from hotelcap_pipeline.store import DataStore, write_parquet_atomic
from hotelcap_pipeline.table_format import format_cell
from hotelcap_pipeline.tagging.captions import make_caption
from hotelcap_pipeline.tagging.evaluation import evaluate_tags
from hotelcap_pipeline.tagging.stats import tag_statistics

SECTIONS = (
    "About this report",
    "Dataset review",
    "The visitors, and why the tags and edits suit them",
    "Tagging results per method vs the original study",
    "Clusters vs classes",
    "Edit series and their scores",
    "The visitor's portrait",
    "What worked and what did not",
    "How to reproduce",
)


def context(profile: str = "demo") -> ReportContext:
    return ReportContext(
        profile=profile,
        seed=7,
        n_hotels=3,
        dataset="assets/demo/dataset",
        clip_model="ViT-B-32",
        clip_pretrained="laion2b_s34b_b79k",
        diffusion_model="sd-test",
        packages={"polars": "1.0"},
    )


def png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def image_tags() -> pl.DataFrame:
    rows = []
    for method, shift in (("seed", 0.0), ("calibrated", 1.0)):
        for i in range(6):
            rows.append(
                {
                    "method": method,
                    "image_id": i,
                    "hotel_id": 10 + i % 3,
                    "chain_id": 1 + i % 2,
                    "tags": ["bed", "desk"] if i % 2 else ["towel"],
                    "caption": make_caption(["bed", "desk"] if i % 2 else ["towel"]),
                    "score_bed": 0.30 + shift,
                    "score_desk": 0.26 + shift,
                    "score_towel": 0.20 + shift + i / 100,
                }
            )
    return pl.DataFrame(rows)


def write(store: DataStore, key: str, df: pl.DataFrame) -> None:
    write_parquet_atomic(df, store.table(key))


@pytest.fixture
def full_store(tmp_path: Path) -> DataStore:
    store = DataStore.at(tmp_path / "store")
    write(
        store,
        "dataset_stats",
        pl.DataFrame(
            {
                "section": ["counts"] * 4 + ["images_per_hotel"] * 3,
                "metric": ["chains", "hotels", "train_images", "test_images", "median", "max", "gini"],
                "value": [2.0, 3.0, 123.0, 9.0, 4.0, 11.0, 0.55],
            }
        ),
    )
    ids = list(range(6))
    write(
        store,
        "hotel_images",
        pl.DataFrame(
            {
                "image_id": ids,
                "hotel_id": [10 + i % 3 for i in ids],
                "status": ["ok"] * 5 + ["failed"],
                "width": [640] * 4 + [480, None],
                "height": [480] * 4 + [640, None],
                "error": [None] * 5 + ["http://x/y.jpg: HTTP 404"],
            }
        ),
    )
    tags = image_tags()
    write(store, "image_tags", tags)
    write(store, "tag_stats", tag_statistics(tags, {"seed": "cosine", "calibrated": "z"}))
    write(store, "tag_evaluation", labelled_evaluation())
    write(
        store,
        "tag_clusters",
        pl.DataFrame(
            {
                "image_id": ids,
                "hotel_id": [10, 10, 11, 11, 12, 12],
                "chain_id": [1, 1, 2, 2, 1, 1],
                "method": ["seed"] * 6,
                "cluster": [0, 0, 1, 1, 2, 2],
                "cluster_k_hotels": [0, 0, 1, 1, 2, 2],
                "cluster_k_chains": [0, 0, 1, 1, 0, 0],
            }
        ),
    )
    write(store, "edit_validation", edit_validation())
    for i in (0, 1, 2, 3):
        (store.root / f"images/{i}.jpg").parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (200, 10 * i, 0)).save(store.root / f"images/{i}.jpg")
        (store.edits / "night").mkdir(parents=True, exist_ok=True)
        (store.edits / "night" / f"{i}.png").write_bytes(png((0, 0, 90)))
    write(
        store,
        "edit_selection",
        pl.DataFrame(
            {"rank": [1, 2, 3, 4], "image_id": [0, 1, 2, 3], "hotel_id": [10, 10, 11, 12],
             "reason": ["seed pick", "farthest", "farthest", "farthest"]}
        ),
    )
    write(
        store,
        "diffusion_edits",
        pl.DataFrame(
            {
                "image_id": [0, 1, 2, 3],
                "hotel_id": [10, 10, 11, 12],
                "edit": ["night"] * 4,
                "status": ["ok"] * 4,
                "error": [None] * 4,
                "path": [f"edits/night/{i}.png" for i in range(4)],
                "source_path": [f"images/{i}.jpg" for i in range(4)],
                "mode": ["img2img"] * 4,
                "model": ["sd-test"] * 4,
                "strength": [0.3, 0.45, 0.3, 0.6],
                "clip_image_sim": [0.91, 0.88, 0.62, 0.7],
                "directional": [0.12, 0.15, 0.2, 0.05],
                "ssim": [0.8, 0.75, 0.5, 0.6],
                "preserve_threshold": [0.8] * 4,
                "nan_or_black": [False] * 4,
                "accepted": [True, True, False, False],
            }
        ),
    )
    (store.figures).mkdir(parents=True, exist_ok=True)
    (store.figures / "visitor_portrait.png").write_bytes(png((10, 200, 10)))
    write(
        store,
        "visitor_portrait",
        pl.DataFrame(
            {
                "path": ["report/figures/visitor_portrait.png"],
                "prompt": ["an alien founder at a desk"],
                "model": ["sd-test"],
                "seed": [7],
            }
        ),
    )
    (store.figures / "dataset_images_per_hotel.png").write_bytes(png((1, 2, 3)))
    # A file nobody declared: the report must not pick it up by its name.
    (store.figures / "dataset_leftover.png").write_bytes(png((3, 2, 1)))
    return store


DECLARED = {"dataset_stats": ["report/figures/dataset_images_per_hotel.png"]}


def labelled_evaluation(n: int = 20) -> pl.DataFrame:
    """tag_evaluation of 20 labelled photos: 'bed' scores separate present from absent, 'towel' do not."""
    rows, truth = [], []
    for i in range(n):
        bed = i % 2 == 0
        given = ["bed"] if bed else ["towel"]
        for method in ("seed", "ensemble"):
            rows.append({"image_id": i, "hotel_id": 1, "chain_id": 1, "method": method, "tags": given,
                         "caption": make_caption(given), "score_bed": 0.3 if bed else 0.1, "score_towel": 0.2})
        truth.append({"image_id": i, "tags": ["bed", "towel"] if bed else ["towel"], "room_kind": "bedroom",
                      "conditions": []})
    labels = pl.DataFrame(truth, schema={"image_id": pl.Int64, "tags": pl.List(pl.Utf8), "room_kind": pl.Utf8,
                                         "conditions": pl.List(pl.Utf8)})
    return evaluate_tags(pl.DataFrame(rows), labels, ["bed", "towel"], seed=0)


def edit_validation(rooms: int = 20) -> pl.DataFrame:
    """A validated rule for 'night': held-out true edits accepted, every wrong kind rejected."""
    kinds = ("true_edit", "noise", "unchanged", "other_room", "two_changes")
    rows = [
        {"series": "night", "room": r, "split": "fit" if r % 2 == 0 else "held-out", "class": k,
         "directional": 0.3 if k == "true_edit" else 0.0, "clip_image_sim": 0.9, "ssim": 0.8,
         "accepted": k == "true_edit", "min_directional": 0.1, "min_clip_image_sim": 0.8, "min_ssim": 0.5}
        for r in range(rooms) for k in kinds
    ]
    return pl.DataFrame(rows)


class Resources(HTMLParser):
    """Every URL the page would load by itself (not links a reader may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a":
            self.anchors.append(a.get("href") or "")
        elif tag == "link" or "src" in a:
            self.loads.append(a.get("src") or a.get("href") or "")


def test_every_section_renders_with_numbers(full_store: DataStore) -> None:
    files = build_report(full_store, context(), ReportTables(full_store, DECLARED))
    html, md = files.html.read_text(), files.markdown.read_text()
    for title in SECTIONS:
        assert title in md
        assert title.replace("'", "&#x27;") in html or title in html
    assert files.missing == ()
    assert "Not materialized yet" not in md
    # Numbers from the tables, formatted, and the study's numbers beside them.
    assert "123 train and 9 test photos" in md
    assert "Gini 0.55: far from balanced" in md
    assert "5 of 6 downloaded" in md and "HTTP 404" in md
    seed = tag_statistics(image_tags()).filter(pl.col("method") == "seed").row(0, named=True)
    assert f"{seed['mean_tags_per_photo']:.3g} tags per photo" in md
    assert "10.46" in md and "0.266" in md
    assert "are z units, not cosines" in md  # calibrated scores are not compared with cosines
    assert "| seed | hotels | 3 | hotel | 3 | 6 | 1 | 1 | 1 |" in md  # k = hotels recovers them exactly
    assert "- `night`: 50% of 4 rendered photos have an edit the validated rule accepts." in md
    assert "Edit rule per series" in md and "directional ≥ 0.100" in md
    # Each score's AUC with its interval and the counts it rests on: 20 true edits against 20 of each kind.
    low, high = auc_interval(1.0, 20, 20)
    assert f"| night | noise | 20 | 20 | 1.00 ({low:.2f}-{high:.2f}) |" in md and low < 0.95
    assert "tag_evaluation per method and split" in md and "A bedroom with a bed and a desk." in md
    assert "an alien founder at a desk" in md
    assert "HOTELCAP_SEED=7" in md and "| polars | 1.0 |" in md
    # Markdown figures are relative links to files that exist.
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", md)
    assert "figures/report_edits_night.png" in links and "figures/dataset_images_per_hotel.png" in links
    assert "figures/dataset_leftover.png" not in links  # figures come from what stages declared
    assert "**Did not work:**" in files.findings and "## " not in files.findings
    assert all((files.markdown.parent / link).is_file() for link in links)
    assert html.count("<img ") == len(links)


def test_html_is_self_contained(full_store: DataStore) -> None:
    files = build_report(full_store, context())
    parser = Resources()
    parser.feed(files.html.read_text())
    assert parser.loads, "the page embeds figures"
    assert all(src.startswith("data:image/png;base64,") for src in parser.loads)
    assert "@import" not in files.html.read_text() and "url(" not in files.html.read_text()
    assert all(h.startswith(("#", "https://arxiv.org/")) for h in parser.anchors)


def test_missing_tables_say_so_and_invent_nothing(tmp_path: Path) -> None:
    store = DataStore.at(tmp_path / "empty")
    files = build_report(store, context())
    md = files.markdown.read_text()
    for key in (
        "dataset_stats",
        "hotel_images",
        "tag_stats",
        "tag_evaluation",
        "tag_clusters",
        "diffusion_edits",
        "visitor_portrait",
    ):
        assert f"`{key}` is not materialized yet" in md
        assert key in files.missing
    assert "<img " not in files.html.read_text()
    assert "Nothing measured worked." in md and "Nothing measured failed." in md
    assert "ARI" not in md and "tags per photo (study" not in md


def test_report_states_profile_and_demo_caveat(full_store: DataStore) -> None:
    demo = build_report(full_store, context("demo")).markdown.read_text()
    assert "profile `demo`" in demo and "every number below comes from a synthetic world" in demo
    real = build_report(full_store, context("hotels50k")).markdown.read_text()
    assert "profile `hotels50k`" in real and "comes from a synthetic world" not in real
    assert "CLIP `ViT-B-32 (laion2b_s34b_b79k)`" in real


def test_findings_follow_the_numbers(full_store: DataStore) -> None:
    def verdicts() -> tuple[str, str, str]:
        md = build_report(full_store, context("hotels50k")).markdown.read_text()
        section = md.split("## What worked and what did not", 1)[1].split("\n## ", 1)[0]
        worked, rest = section.split("**Did not work:**")
        failed, _, unmeasured = rest.partition("**Not measured:**")
        return worked, failed, unmeasured

    worked, failed, unmeasured = verdicts()
    # 5 of 6 photos is below the 90% bar; the evidence names metric, value, threshold and n.
    assert "Photo download: only 5 photos fetched and resized (share of photos stored = 0.833, threshold ≥ 0.9, " \
        "n = 6 photos requested)" in failed
    assert "Tagging `seed`: photos that show an object score above those that do not (median per-tag ROC AUC = 1, " \
        "threshold ≥ 0.75, n = 20 labelled photos)" in worked
    assert "Edits `night`: 2 edits passed the validated rule" in worked
    assert "Clusters of the `seed` tags vs hotels (k = 3, 3 hotels): too few to judge" in unmeasured  # 6 < 8 photos
    images = full_store.read_table("hotel_images").with_columns(pl.lit("ok").alias("status"))
    write(full_store, "hotel_images", images)
    edits = full_store.read_table("diffusion_edits").with_columns(pl.lit(False).alias("accepted"))
    write(full_store, "diffusion_edits", edits)
    worked, failed, unmeasured = verdicts()
    assert "Photo download: 6 photos fetched and resized" in worked
    assert "Edits `night`: no edit passed the validated rule" in failed


def test_edit_verdicts_count_only_the_photos_tried(full_store: DataStore) -> None:
    from hotelcap_pipeline.report.verdicts import edit_verdicts

    edits = full_store.read_table("diffusion_edits")

    def judged(status: list[str], error: list[str | None]) -> tuple[list[str], list[str]]:
        write(full_store, "diffusion_edits", edits.with_columns(pl.Series("status", status),
                                                                pl.Series("error", error, dtype=pl.Utf8)))
        verdicts, unjudged = edit_verdicts(ReportTables(full_store))
        return [v.sentence() for v in verdicts], unjudged

    # Every photo skipped (its model was not available): not measured, with the reason; never "did not work".
    verdicts, unjudged = judged(["skipped"] * 4, ["model not found: /m"] * 4)
    assert unjudged == ["Edits `night`: not measured: none of its 4 photos was rendered (model not found: /m)."]
    # What is left is on the validated rule: its true edits, and the wrong kind it accepts most (none of any
    # kind here, so the last: two changes).
    assert verdicts == [
        "Edit rule of `night` on true edits: accepts them (share of true edits accepted = 1 (95% interval "
        "0.72-1.00), threshold ≥ 0.9, n = 10 held-out rooms; a close call: the interval reaches across the "
        "threshold).",
        "Edit rule of `night` on two_changes (negative): rejects them (share of a negative class accepted = 0 (95% "
        "interval 0.00-0.28), threshold ≤ 0.1, n = 10 held-out rooms; a close call: the interval reaches across "
        "the threshold).",
    ]
    # Two accepted, two skipped: judged on the two photos tried, which are too few to say.
    verdicts, _ = judged(["ok", "ok", "skipped", "skipped"], [None, None, "model not found: /m", "model not found: /m"])
    assert verdicts[0].startswith("Edits `night`: too few to judge (share of photos with an accepted edit = 1 "
                                  "(95% interval 0.34-1.00), threshold ≥ 0.5, n = 2 photos tried; at least 4")
    # A failed render was tried and counts against the series, named in the sentence.
    verdicts, _ = judged(["ok", "failed", "ok", "ok"], [None, "out of memory", None, None])
    assert "only 1 of 4 edits passed the validated rule; 1 renders failed " \
        "(share of photos with an accepted edit = 0.25" in verdicts[0]


def test_edits_without_their_validation_are_reported_so(full_store: DataStore) -> None:
    from hotelcap_pipeline.report.verdicts import edit_verdicts

    validation = full_store.read_table("edit_validation")
    # Renamed since edit_validation was materialized: no rule for it, and the report still builds.
    write(full_store, "edit_validation", validation.with_columns(pl.lit("old_name").alias("series")))
    md = build_report(full_store, context()).markdown.read_text()
    assert "None of the edited series has an acceptance rule in `edit_validation`" in md
    full_store.table("edit_validation").unlink()
    _, unjudged = edit_verdicts(ReportTables(full_store))
    assert unjudged == ["Edits `night`: not judged: `edit_validation` is not materialized, so no acceptance rule "
                        "could be read (4 photos)."]


def test_each_series_gets_its_own_grid_file(full_store: DataStore) -> None:
    edits = full_store.read_table("diffusion_edits")
    write(full_store, "diffusion_edits", pl.concat([edits.with_columns(pl.lit(name).alias("edit"))
                                                    for name in ("no-snow", "no_snow")]))
    md = build_report(full_store, context()).markdown.read_text()
    assert "figures/report_edits_no-snow.png" in md and "figures/report_edits_no_snow.png" in md


def test_format_and_markdown_helpers() -> None:
    assert format_cell(3.0) == "3" and format_cell(0.123456) == "0.1235" and format_cell(None) == "–"
    html = markdown_html("## Traits\n\n1. **Fast.** Never waits\n   for anything.\n2. Tidy.\n\n> an oath")
    flat = re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html))  # markdown-it puts newlines between tags
    assert "<h3>Traits</h3>" in flat
    assert "<ol><li><strong>Fast.</strong> Never waits for anything.</li><li>Tidy.</li></ol>" in flat
    assert "<blockquote><p>an oath</p></blockquote>" in flat
    from hotelcap_pipeline.report.render import _demoted

    # In report.md as in the HTML, a people-written file's headings sit under the report's "##" sections.
    assert _demoted("## Traits\n# Oath\n```\n# a comment in code\n```") == (
        "### Traits\n## Oath\n```\n# a comment in code\n```")


def test_the_report_link_follows_the_port_hotelcap_ui_serves(monkeypatch):
    from hotelcap_pipeline.report.serve import REPORT_URL_ENV, report_url

    monkeypatch.delenv(REPORT_URL_ENV, raising=False)
    assert report_url() == "http://127.0.0.1:3001/index.html"
    monkeypatch.setenv(REPORT_URL_ENV, report_url(3005))
    assert report_url() == "http://127.0.0.1:3005/index.html"
    # A folder's URL set by hand is taken as that folder's index page.
    monkeypatch.setenv(REPORT_URL_ENV, "https://example.org/reports/hotelcap")
    assert report_url() == "https://example.org/reports/hotelcap/index.html"
    monkeypatch.setenv(REPORT_URL_ENV, "http://host:8080")
    assert report_url() == "http://host:8080/index.html"


@pytest.mark.parametrize(("given", "page"), [
    ("https://example.org/reports/run-2024.05.01", "https://example.org/reports/run-2024.05.01/index.html"),
    ("https://example.org/reports/run-2024.05.01/", "https://example.org/reports/run-2024.05.01/index.html"),
    ("https://example.org/reports/v1.2?x=1", "https://example.org/reports/v1.2/index.html?x=1"),
    ("https://example.org/reports/report.html", "https://example.org/reports/report.html"),
    ("https://example.org/reports/INDEX.HTM", "https://example.org/reports/INDEX.HTM"),
])
def test_only_an_html_name_is_taken_as_the_reports_page(given: str, page: str) -> None:
    from hotelcap_pipeline.report.serve import index_page

    assert index_page(given) == page


def test_the_reproduce_command_names_every_setting_of_the_run(tmp_path: Path) -> None:
    from hotelcap_pipeline.report.context import MACHINE_SETTINGS
    from hotelcap_pipeline.report.sections.about import reproduce_section
    from hotelcap_pipeline.report.tables import ReportTables
    from hotelcap_pipeline.settings import ENV_VARS, load_settings
    from hotelcap_pipeline.store import DataStore

    settings = load_settings({"HOTELCAP_PROFILE": "demo", "HOTELCAP_PRECISION": "fp16",
                              "HOTELCAP_IP2P_MODEL": "org/ip2p", "HOTELCAP_CONTROLNET_MODEL": "org/canny",
                              "HOTELCAP_TEST_PHOTOS": "https://example.org/test.tar.lz4"})
    ctx = ReportContext.from_settings(settings)
    section = reproduce_section(ctx, ReportTables(DataStore(tmp_path)))
    command = section.blocks[0].text
    for name, var in ENV_VARS.items():
        assert (var in command) == (name not in MACHINE_SETTINGS), var
    for expected in ("HOTELCAP_PRECISION=fp16", "HOTELCAP_IP2P_MODEL=org/ip2p", "HOTELCAP_CONTROLNET_MODEL=org/canny",
                     "HOTELCAP_TEST_PHOTOS=https://example.org/test.tar.lz4"):
        assert expected in command


def test_the_reproduce_command_keeps_the_run_configs_choices_but_not_the_machines(tmp_path: Path) -> None:
    from hotelcap_pipeline.report.sections.about import reproduce_section
    from hotelcap_pipeline.settings import load_settings

    run_config = {"resources": {"diffusion": {"config": {"max_side": 128}}, "clip": {"config": {"batch_size": 8}},
                                "settings": {"config": {"min_ok_share": 0.9, "data_store": "/srv/store"}}},
                  "ops": {"tag_clusters": {"config": {"k": 5}}}}
    store = DataStore(tmp_path)
    ctx = ReportContext.from_run(load_settings({"HOTELCAP_PROFILE": "demo"}), ReportTables(store), run_config)
    command = reproduce_section(ctx, ReportTables(store)).blocks[0].text
    given = json.loads(shlex.split(command.strip("`").split("--config-json ", 1)[1])[0])
    assert given == {"resources": {"diffusion": {"config": {"max_side": 128}}, "clip": {"config": {"batch_size": 8}},
                                   "settings": {"config": {"min_ok_share": 0.9}}},
                     "ops": {"tag_clusters": {"config": {"k": 5}}}}


def test_models_recorded_in_the_tables_show_no_path_of_the_machine_that_ran_them(tmp_path: Path) -> None:
    from hotelcap_pipeline.report.sections.about import reproduce_section
    from hotelcap_pipeline.settings import load_settings

    store = DataStore(tmp_path)
    store.tables.mkdir(parents=True, exist_ok=True)
    elsewhere = "/srv/run/store/models"
    pl.DataFrame({"model": [f"{elsewhere}/tiny-sd|{elsewhere}/tiny-controlnet"], "clip_model": ["ViT-B-32/sha256:ab"]}
                 ).write_parquet(store.tables / "diffusion_edits.parquet")
    section = reproduce_section(ReportContext.from_settings(load_settings({})), ReportTables(store))
    bullets = next(b for b in section.blocks if isinstance(b, Bullets)).items
    assert bullets == ("`diffusion_edits.model`: /path/to/tiny-sd|/path/to/tiny-controlnet",
                       "`diffusion_edits.clip_model`: ViT-B-32/sha256:ab")


def test_the_report_does_not_need_the_device_the_models_ran_on(tmp_path: Path) -> None:
    from hotelcap_pipeline.report.context import ReportContext
    from hotelcap_pipeline.settings import Settings

    store = DataStore.at(str(tmp_path))
    # This machine has no CUDA device; a report pod sharing a GPU pod's settings still writes its report.
    ctx = ReportContext.from_run(Settings(device="cuda", data_store=str(tmp_path)), ReportTables(store))
    assert ctx.device == "cuda"
    resolved = ReportContext.from_run(Settings(device="auto", data_store=str(tmp_path)), ReportTables(store)).device
    assert resolved in ("cpu", "cuda", "mps")


def test_a_word_no_labelled_photo_shows_is_counted_as_given_wrongly_on_labelled_photos_only(tmp_path: Path) -> None:
    from hotelcap_pipeline.report.document import Paragraph
    from hotelcap_pipeline.report.sections.tagging import evaluation_blocks
    from hotelcap_pipeline.tagging.evaluation import LABELLED

    rows = []
    for i in range(16):  # 0-9 labelled, 10-15 not: a tag given to those cannot be called wrong
        for method, balcony in (("seed", i in (0, 1) or i >= 10), ("ensemble", i == 0)):
            given = ["bed", "balcony"] if balcony else ["bed"]
            rows.append({"image_id": i, "hotel_id": 1, "chain_id": 1, "method": method, "tags": given,
                         "caption": make_caption(given), "score_bed": 0.1 + i / 100, "score_balcony": 0.1})
    labels = pl.DataFrame({"image_id": list(range(10)), "tags": [["bed"] if i % 2 else [] for i in range(10)],
                           "room_kind": ["bedroom"] * 10, "conditions": [[]] * 10},
                          schema={"image_id": pl.Int64, "tags": pl.List(pl.Utf8), "room_kind": pl.Utf8,
                                  "conditions": pl.List(pl.Utf8)})
    evaluation = evaluate_tags(pl.DataFrame(rows), labels, ["bed", "balcony"], seed=0)
    held = evaluation.filter((pl.col("method") == LABELLED) & (pl.col("tag") == "balcony")).row(0, named=True)

    def notes(evaluation: pl.DataFrame) -> list[str]:
        store = DataStore.at(tmp_path / "store")
        write(store, "image_tags", pl.DataFrame(rows))
        write(store, "tag_evaluation", evaluation)
        blocks = evaluation_blocks(ReportTables(store))
        return [b.text for b in blocks if isinstance(b, Paragraph) and b.text.startswith("Not measured")]

    # `seed` gives it to 2 labelled photos and to 6 unlabelled ones, which say nothing about it.
    assert notes(evaluation) == [
        "Not measured: balcony: no labelled photo shows it, so there is no ROC AUC, AP or recall to compute, and the "
        "medians, mAP and macro recall above leave it out; macro precision and F1 count it as wrong wherever a "
        "method gives it. The methods give it anyway, always wrongly: `ensemble` on 1 of 10 labelled photos, "
        f"`{LABELLED}` on {held['n_given']} of {held['photos']} held-out photos, `seed` on 2 of 10 labelled photos."
    ]
    assert notes(evaluation.filter(pl.col("tag") != "balcony")) == []


def test_a_figure_is_shown_with_the_caption_its_png_carries(full_store: DataStore) -> None:
    from hotelcap_pipeline.figures import figure_png, new_figure, png_caption

    fig, ax = new_figure()
    ax.plot([1, 2], [3, 4])
    drawn = figure_png(fig, "Photos per hotel: read it *so*.")
    assert png_caption(drawn) == "Photos per hotel: read it *so*." and png_caption(png((1, 2, 3))) is None
    (full_store.figures / "tag_stats_tag_frequency.png").write_bytes(drawn)
    figures = {**DECLARED, "tag_stats": ["report/figures/tag_stats_tag_frequency.png"]}
    tables = ReportTables(full_store, figures)
    assert [f.caption for f in tables.figures_of("tag_stats")] == ["Photos per hotel: read it *so*."]
    assert [f.caption for f in tables.figures_of("dataset_stats")] == ["dataset images per hotel"]  # none stored


def test_tables_a_remote_store_holds_are_listed_as_materialized(tmp_path: Path, monkeypatch) -> None:
    """A report built on another machine (an empty local copy of a bucket) lists what the bucket holds."""
    import uuid

    import fsspec

    from hotelcap_pipeline.report.document import Table
    from hotelcap_pipeline.report.sections.about import about_section

    bucket = f"hotelcap-report-{uuid.uuid4().hex}"
    url = f"memory://{bucket}/store"
    try:
        monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-a"))
        made = DataStore.at(url)
        write(made, "hotels", pl.DataFrame({"hotel_id": [1, 2]}))  # a big table: listed, never read
        write(made, "tag_evaluation", labelled_evaluation())
        for shard, ids in (("shard-00", [0, 1]), ("shard-01", [2])):
            write_parquet_atomic(pl.DataFrame({"image_id": ids, "status": ["ok"] * len(ids)}),
                                 made.table("hotel_images") / f"{shard}.parquet")
        made.push([made.tables])

        monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-b"))
        fresh = DataStore.at(url)
        section = about_section(context(), ReportTables(fresh))
        frame = next(b for b in section.blocks if isinstance(b, Table)).frame
        listed = {r["table"]: (r["materialized"], r["rows"]) for r in frame.iter_rows(named=True)}
        assert listed["hotels"] == (True, None)
        assert listed["hotel_images"] == (True, 3)
        assert listed["tag_evaluation"] == (True, labelled_evaluation().height)
        assert listed["chains"] == (False, None) and listed["image_tags"] == (False, None)
        assert not fresh.table("hotels").exists()  # its presence was asked of the bucket, nothing fetched
    finally:
        fs = fsspec.filesystem("memory")
        if fs.exists(bucket):
            fs.rm(bucket, recursive=True)


@pytest.mark.parametrize(("labelled_f1", "said"), [
    (0.68, "did not work: labelled F1 0.68 gains only 0.01 over 0.67 (needs ≥ 0.02) (macro F1 gain over the best "
           "zero-shot method = 0.01, threshold ≥ 0.02"),
    (0.67, "did not work: labelled F1 0.67 is no better than 0.67 (macro F1 gain over the best zero-shot method = 0,"),
    (0.6704, "did not work: labelled F1 0.6704 gains only 0.0004 over 0.6700 (needs ≥ 0.02)"),
    (0.70, "worked: labelled F1 0.70 beats 0.67 without training (macro F1 gain over the best zero-shot method = 0.03"),
])
def test_the_labelled_gain_sentence_agrees_with_its_numbers(full_store: DataStore, labelled_f1: float,
                                                             said: str) -> None:
    from hotelcap_pipeline.report.verdicts import tagging_verdicts
    from hotelcap_pipeline.tagging.evaluation import CAPTION_ROW, LABELLED

    evaluation = labelled_evaluation().with_columns(
        pl.when(pl.col("tag") == CAPTION_ROW).then(pl.col("f1"))
        .when(pl.col("method") == LABELLED).then(pl.lit(labelled_f1)).otherwise(pl.lit(0.67)).alias("f1"))
    write(full_store, "tag_evaluation", evaluation)
    (gain,) = [v for v in tagging_verdicts(ReportTables(full_store)) if v.subject.startswith("Per-tag thresholds")]
    assert f"{gain.status}: {gain.sentence().removeprefix(gain.subject + ': ')}".startswith(said)


def test_the_edit_section_tells_no_rule_from_a_rule_that_failed_validation(full_store: DataStore) -> None:
    validation = full_store.read_table("edit_validation")

    def said() -> tuple[str, str]:
        md = build_report(full_store, context()).markdown.read_text()
        bullet = next(line for line in md.splitlines() if line.startswith("- `night`: "))
        caption = md.split("figures/report_edits_night.png", 1)[0].rsplit("![", 1)[1]
        return bullet, caption

    # Renamed since edit_validation was materialized: there is no rule for `night`, none failed.
    write(full_store, "edit_validation", validation.with_columns(pl.lit("old_name").alias("series")))
    bullet, caption = said()
    assert bullet == "- `night`: unknown: the synthetic world cannot show this change, so no acceptance rule was " \
        "validated."
    assert "holds no rule" in caption and "failed validation" not in caption
    full_store.table("edit_validation").unlink()
    bullet, caption = said()
    assert bullet == "- `night`: unknown: `edit_validation` is not materialized, so no acceptance rule could be read."
    assert "`edit_validation` is not materialized" in caption and "failed validation" not in caption
    # A rule that accepts noise fails validation, and says so.
    write(full_store, "edit_validation", validation.with_columns(pl.lit(True).alias("accepted")))
    bullet, caption = said()
    assert bullet == "- `night`: its rule failed validation, so its verdict says little (50% of 4 rendered photos " \
        "accepted)."
    assert "the series' rule, which failed validation" in caption
    # One held-out room per class: nothing failed, nothing could be measured; the rule is untested, not failed.
    from hotelcap_pipeline.edits.validation import HELD_OUT

    held = pl.col("split") == HELD_OUT
    write(full_store, "edit_validation", pl.concat([validation.filter(~held),
                                                    validation.filter(held).unique(["series", "class"], keep="first")]))
    bullet, caption = said()
    assert bullet.startswith("- `night`: its rule could not be validated (too few held-out rooms), so its verdict")
    assert "could not be validated" in caption and "failed validation" not in caption
    findings = build_report(full_store, context()).findings
    assert "Edits `night`: not judged: its acceptance rule could not be validated (too few held-out rooms, " \
        "above)." in findings and "Edits `night`: not judged: its acceptance rule failed validation" not in findings


def test_findings_tell_a_tag_evaluation_not_made_yet_from_one_without_labels(full_store: DataStore) -> None:
    full_store.table("tag_evaluation").unlink()
    findings = build_report(full_store, context()).findings
    assert "Tags and captions: not measured against truth: `tag_evaluation` is not materialized yet: run " \
        "`hotelcap materialize --select tag_evaluation`." in findings
    assert "HOTELCAP_LABELS" not in findings
    write(full_store, "tag_evaluation", labelled_evaluation().clear())  # run without a labels file
    findings = build_report(full_store, context()).findings
    assert "not measured against truth: no labels file (set HOTELCAP_LABELS" in findings
    assert "not materialized" not in findings


def test_an_empty_tag_clusters_table_is_said_so(full_store: DataStore) -> None:
    write(full_store, "tag_clusters", full_store.read_table("tag_clusters").clear())
    md = build_report(full_store, context()).markdown.read_text()
    assert "`tag_clusters` holds no clustering per tagging method" in md
    assert "Clusters of the `seed` tags" not in md


def test_a_tag_evaluation_from_before_room_photos_were_counted_still_reports(full_store: DataStore) -> None:
    write(full_store, "tag_evaluation", labelled_evaluation().drop("room_photos"))
    files = build_report(full_store, context())
    # The caption room verdict falls back to counting every caption.
    assert re.search(r"Captions `seed`: captions too often name the wrong room \(share of captions naming the "
                     r"photo's room kind = 0\.5 \([^)]*\), threshold ≥ 0\.7, n = 20 captions", files.findings)
    assert "tag_evaluation per method and split" in files.markdown.read_text()
