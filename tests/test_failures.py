"""A run that produced nothing usable fails, and `hotelcap materialize` ends with the one line that says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from pydantic import Field

from hotelcap_pipeline import outcomes
from hotelcap_pipeline.defs.failures import failure_report
from hotelcap_pipeline.models import ModelUnavailableError


def test_photo_share_and_edit_series_rules() -> None:
    manifest = pl.DataFrame({"status": ["ok", "failed", "failed"],
                             "error": [None, "HTTP 404", "HTTP 404"]})
    [line] = outcomes.photo_share_problems(manifest)
    assert "only 1 of 3 photos are ok (33%" in line and "HTTP 404" in line
    assert outcomes.photo_share_problems(manifest, min_share=0.3) == []
    assert outcomes.photo_share_problems(manifest.head(0)) == [
        "no photo in the manifest: check the sampled hotels and HOTELCAP_DATASET"]
    # A dataset given in the run config is named by its field, which is what the user set.
    [line] = outcomes.photo_share_problems(manifest.head(0), dataset_setting="resources.settings.config.dataset")
    assert line.endswith("check the sampled hotels and resources.settings.config.dataset")
    edits = pl.DataFrame({
        "edit": ["night", "night", "petals", "petals", "swan", "swan"],
        "status": ["failed", "failed", "skipped", "skipped", "ok", "failed"],
        "error": ["a.jpg: boom", "b.jpg: boom", "series skipped: x", "series skipped: x", None, "c.jpg: bad"],
    })
    assert outcomes.edit_series_problems(edits) == ["edit series night: no successful edit of 2 (a.jpg: boom)"]


@pytest.mark.parametrize(
    ("errors", "common"),
    [
        (["decompression bomb: 2e+08 pixels (limit 1e+08)"] * 2 + ["HTTP 404"],
         "decompression bomb: 2e+08 pixels (limit 1e+08)"),
        # The same reason after any number of attempts is one reason.
        (["timeout after 2 attempts", "timeout after 3 attempts", "timeout after 4 attempts", "HTTP 404", "HTTP 404"],
         "timeout"),
    ],
)
def test_most_common_photo_error_is_quoted_whole(errors: list[str], common: str) -> None:
    manifest = pl.DataFrame({"status": ["failed"] * len(errors) + ["ok"], "error": [*errors, None]})
    [line] = outcomes.photo_share_problems(manifest)
    assert line.endswith(f"; most common error: {common}"), line


@dg.asset
def rows() -> pl.DataFrame:
    return pl.DataFrame({"status": ["failed"] * 4, "error": ["timeout after 4 attempts"] * 4})


@dg.asset_check(asset=rows, blocking=True)
def rows_mostly_ok(rows: pl.DataFrame) -> dg.AssetCheckResult:
    problems = outcomes.photo_share_problems(rows)
    return dg.AssetCheckResult(passed=not problems, description="; ".join(problems) or None)


@dg.asset(deps=[rows])
def downstream() -> None:
    return None


@dg.asset
def needs_a_model() -> None:
    raise ModelUnavailableError("HOTELCAP_DIFFUSION_MODEL=/models/sd: no such file or folder; set it to ...")


def test_a_failed_blocking_check_fails_the_run_with_its_reason_last() -> None:
    defs = dg.Definitions(assets=[rows, downstream], asset_checks=[rows_mostly_ok])
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance,
                                                                                raise_on_error=False)
    assert not result.success
    details, reason = failure_report(result)
    assert reason == "check rows:rows_mostly_ok failed: only 0 of 4 photos are ok (0%, below the 50% required); " \
                     "most common error: timeout"
    assert not any("Traceback" in d for d in details)


def failure_of(*assets: dg.AssetsDefinition, run_config: dict | None = None) -> tuple[list[str], str]:
    """Run ``assets`` in a test instance and return the failure report of the run (which must fail)."""
    defs = dg.Definitions(assets=list(assets))
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config)
    assert not result.success
    return failure_report(result)


def test_an_unavailable_model_is_one_line_without_traceback() -> None:
    details, reason = failure_of(needs_a_model)
    assert details == []
    assert reason == "needs_a_model: HOTELCAP_DIFFUSION_MODEL=/models/sd: no such file or folder; set it to ..."


class RoomsConfig(dg.Config):
    rooms: int = Field(default=96, ge=16)


def _configured(config):  # type: ignore[no-untyped-def]
    return None


# Dagster reads config types from live annotations; this module's are strings (future annotations).
_configured.__annotations__ = {"config": RoomsConfig, "return": None}
configured = dg.asset(name="configured")(_configured)


def test_a_config_out_of_bounds_names_the_field_the_rule_and_the_value() -> None:
    _, reason = failure_of(configured, run_config={"ops": {"configured": {"config": {"rooms": 3}}}})
    assert reason == ("configured: 1 validation error for RoomsConfig: rooms: Input should be greater than or "
                      "equal to 16 (given 3)")


@dg.asset
def wraps_a_library_error() -> None:
    try:
        raise RuntimeError("Error(s) in loading state_dict for CLIP:")
    except RuntimeError as exc:
        raise ModelUnavailableError("cannot load CLIP 'x' from /m.pt: size mismatch; set HOTELCAP_CLIP_MODEL") from exc


def test_our_error_wins_over_the_library_error_it_wraps() -> None:
    details, reason = failure_of(wraps_a_library_error)
    assert details == []
    assert reason == "wraps_a_library_error: cannot load CLIP 'x' from /m.pt: size mismatch; set HOTELCAP_CLIP_MODEL"


def test_materialize_offline_without_dataset_ends_with_what_to_set(tmp_path: Path) -> None:
    env = {**os.environ, "HOTELCAP_PROFILE": "hotels50k", "HOTELCAP_DATASET": str(tmp_path / "no-dataset.tar.gz"),
           "HOTELCAP_DATA_STORE": str(tmp_path / "store"), "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "hotelcap_pipeline.cli", "materialize", "--select", "chains"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("FAILED: metadata_tables: HOTELCAP_DATASET=") and "no such file or folder" in last
    assert "Traceback" not in done.stderr


class Bounded(dg.ConfigurableResource):
    share: float = Field(default=0.5, le=1.0)


@dg.asset
def needs_bounded(bounded: Bounded) -> None: ...


def test_a_resource_config_out_of_bounds_says_which_field() -> None:
    defs = dg.Definitions(assets=[needs_bounded], resources={"bounded": Bounded()})
    with dg.instance_for_test() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"resources": {"bounded": {"config": {"share": 1.5}}}})
    assert failure_report(result)[1] == ("resources: 1 validation error for Bounded: share: Input should be less "
                                         "than or equal to 1 (given 1.5)")


def test_run_config_moves_the_store_the_cli_uses_and_a_bad_entry_is_one_line(tmp_path: Path) -> None:
    from hotelcap_pipeline.settings import DEMO_DIR

    env = {**os.environ, "HOTELCAP_PROFILE": "demo", "HOTELCAP_DATASET": str(DEMO_DIR / "dataset"),
           "HOTELCAP_DATA_STORE": str(tmp_path / "store"), "DAGSTER_HOME": str(tmp_path / "home")}

    def materialize(config: dict) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hotelcap_pipeline.cli", "materialize", "--select", "chains",
                               "--config-json", json.dumps(config)], env=env, capture_output=True, text=True,
                              timeout=300)

    moved = materialize({"resources": {"settings": {"config": {"data_store": str(tmp_path / "other")}}}})
    assert moved.returncode == 0, moved.stderr
    assert (tmp_path / "other" / "tables" / "chains.parquet").is_file() and not (tmp_path / "store").exists()
    assert f"outputs: {tmp_path / 'other'}" in moved.stdout
    wrong = materialize({"ops": {"nope": {"config": {}}}})
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert wrong.stderr.strip().splitlines()[-1].startswith('--config-json: Received unexpected config entry "nope"')
