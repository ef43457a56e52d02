"""The `hotelcap` command: `materialize` runs the asset graph, `search` queries the stored tables, `ui` starts
the web UI with the report served beside it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hotelcap_pipeline.settings import (
    Settings,
    ensure_dagster_home,
    load_settings,
    settings_with,
    unknown_variables,
    unusable_folder,
)
from hotelcap_pipeline.store import DamagedFileError, DataStore, StoreBusyError, store_lock
from hotelcap_pipeline.table_format import text_table
from hotelcap_pipeline.terminal import safe_text

if TYPE_CHECKING:
    import polars as pl


def _split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def _run_settings(run_config: dict | None) -> Settings:
    """The settings a run with ``run_config`` uses where the CLI needs them before the run (its data store)."""
    given: object = run_config or {}
    for part in ("resources", "settings", "config"):
        given = given.get(part, {}) if isinstance(given, dict) else {}
    if not isinstance(given, dict):
        given = {}  # Dagster's own config check says what is wrong with it
    return settings_with({name: _config_value(name, given.get(name)) for name in ("profile", "data_store")})


def _config_value(name: str, value: object) -> str | None:
    """A settings field of the run config as Dagster will read it: ``{"env": "VAR"}`` is that variable's value
    (the Launchpad offers that form for every field); the CLI must lock and check the store the run writes."""
    field = f"resources.settings.config.{name}"
    if isinstance(value, dict) and set(value) == {"env"}:
        variable = value["env"]
        if not isinstance(variable, str) or variable not in os.environ:
            raise ValueError(f"{field} names the environment variable {variable!r}, which is not set")
        return os.environ[variable]
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field} must be a string (or {{\"env\": \"VARIABLE\"}}), got {value!r}")
    return value


def cmd_materialize(args: argparse.Namespace) -> int:
    # The arguments first: a mistake in them is one line, before Dagster loads.
    select = list(dict.fromkeys(k for group in args.select or [] for k in _split_keys(group)))
    if args.select is not None and not select:
        print(f"--select {' '.join(args.select)!r} names no asset: give asset keys, or leave --select out "
              "to materialize the whole graph", file=sys.stderr)
        return 2
    try:
        run_config = json.loads(args.config_json) if args.config_json else None
    except json.JSONDecodeError as exc:
        print(f"--config-json: not valid JSON ({exc})", file=sys.stderr)
        return 2
    home = args.dagster_home  # made ready by main()
    import dagster as dg

    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.defs.inputs import observe_changed_inputs
    from hotelcap_pipeline.defs.materialize import configured_assets, plan_run, run_plan, store_checker
    from hotelcap_pipeline.defs.orphans import mark_orphaned_runs

    # An asset whose op the run config configures runs in this run: left out as up to date, its config would be
    # refused as an unknown entry (or, worse, ignored).
    for name in configured_assets(defs, run_config):
        if select and name not in select:
            print(f"adding {name} (configured in --config-json)")
            select.append(name)

    try:
        # The run config's settings resource may move the data store: lock and check the one the run writes.
        run_settings = _run_settings(run_config)
        store = DataStore.at(run_settings.data_store)
    except ValueError as exc:
        print(safe_text(f"--config-json: {exc}", one_line=True), file=sys.stderr)
        return 2
    lock = contextlib.ExitStack()
    try:
        lock.enter_context(store_lock(store))
    except StoreBusyError as exc:
        print(safe_text(str(exc)), file=sys.stderr)
        return 1
    except OSError as exc:
        why = unusable_folder(run_settings.origin("data_store"), store.root, exc, "the data store folder")
        print(safe_text(why), file=sys.stderr)
        return 1
    with lock, dg.DagsterInstance.get() as instance:
        for run_id in mark_orphaned_runs(instance):
            print(f"marked run {run_id} failed: the process that ran it is gone (killed?)")
        # Hash the inputs under assets/ first, so an edited vocabulary or edit series counts as stale.
        observe_changed_inputs(instance)
        # An upstream whose stored files are missing or damaged is rebuilt even where Dagster's records say
        # it is up to date (a deleted or truncated data store).
        plan = plan_run(defs, instance, select or None, stored_problem=store_checker(defs, store, instance))
        for key, why in plan.added.items():
            print(safe_text(f"adding upstream {key.to_user_string()} ({why})", one_line=True))
        names = ", ".join(k.to_user_string() for k in plan.keys)
        print(f"materializing {len(plan.keys)} asset(s): {names}")
        try:
            result = run_plan(defs, instance, plan, run_config)
        except dg.DagsterInvalidConfigError as exc:
            problems = "; ".join(e.message for e in exc.errors) or str(exc).split("\n", 1)[0]
            print(safe_text(f"--config-json: {problems}", one_line=True), file=sys.stderr)
            return 2
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure and e.step_key]
        where = f"at: {', '.join(failed)}" if failed else "before any step ran"
        print(f"run {result.run_id} FAILED {where}", file=sys.stderr)
        from hotelcap_pipeline.defs.failures import failure_report

        # Expected conditions are one line each; the reason to act on is the last line printed.
        details, reason = failure_report(result)
        for line in details:
            print(safe_text(line), file=sys.stderr)
        print(safe_text(f"FAILED: {reason}"), file=sys.stderr)
        return 1
    print(f"run {result.run_id} succeeded (DAGSTER_HOME={home})")
    # Non-blocking checks gate nothing, but a failed one says a table is wrong: never silently.
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            print(safe_text(f"check failed: {evaluation.asset_key.to_user_string()} {evaluation.check_name}: "
                            f"{evaluation.description or 'see the asset page'}", one_line=True), file=sys.stderr)
    print(f"outputs: {store.location(store.tables)}/<asset>.parquet and the rest of {store.location(store.root)}/")
    if dg.AssetKey("report") in plan.keys:
        print(f"report: {store.location(store.report / 'index.html')} (and report.md beside it)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import polars as pl

    from hotelcap_pipeline.models import ModelUnavailableError, load_clip_by_id
    from hotelcap_pipeline.tagging.search import (
        UnknownTagError,
        recorded_model,
        search_by_tags,
        search_by_text,
        searched_tags,
        select_method,
    )
    from hotelcap_pipeline.tagging.vocabulary import load_vocabulary

    settings = load_settings()
    store = DataStore.at(settings.data_store)
    try:
        if args.text and args.words:
            print("give tag words or --text, not both", file=sys.stderr)
            return 2
        if args.text:
            captions = _captions(store, args.method)  # first: a wrong --method is said before a model loads
            # The model that made the stored embeddings, not the profile's default (which may need the network).
            embeddings = store.read_table("image_embeddings")
            clip = load_clip_by_id(recorded_model(embeddings), settings)
            photos = _with_hotel_names(store, search_by_text(embeddings, clip, args.text, args.limit))
            if captions is not None:
                photos = photos.join(captions, on="image_id", how="left", maintain_order="left")
            print(f"photos closest to {args.text!r} (CLIP cosine):")
            print(text_table(photos))
            return 0
        if not args.words:
            print("give tag words (hotelcap search bed window) or --text 'free text'", file=sys.stderr)
            return 2
        tags = store.read_table("image_tags")
        vocabulary = load_vocabulary()
        hotels, photos = search_by_tags(tags, args.words, args.limit, method=args.method, vocabulary=vocabulary)
        searched = searched_tags(select_method(tags, args.method), args.words, vocabulary)
    except ModelUnavailableError as exc:
        print(safe_text(str(exc)), file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"{safe_text(str(exc))}\nRun `hotelcap materialize` first (the search reads the stored tables only).",
              file=sys.stderr)
        return 1
    except (UnknownTagError, ValueError) as exc:
        print(safe_text(str(exc)), file=sys.stderr)
        return 2
    print(safe_text(f"hotels ranked by the tags {', '.join(searched)} (from {' '.join(args.words)!r}, method "
                    f"{args.method}):", one_line=True))
    print(text_table(_with_hotel_names(store, hotels)))
    print("\nphotos:")
    print(text_table(photos.with_columns(pl.col("score").round(3))))
    return 0


def _captions(store: DataStore, method: str) -> pl.DataFrame | None:
    """The photos' captions in the visitors' words by ``method``, from the stored tags (None: not tagged)."""
    from hotelcap_pipeline.tagging.search import select_method

    try:
        tags = store.read_table("image_tags")
    except FileNotFoundError as exc:
        _warn_if_damaged(exc)
        return None
    return select_method(tags, method).select("image_id", "caption")


def _with_hotel_names(store: DataStore, df: pl.DataFrame) -> pl.DataFrame:
    try:
        names = store.read_table("hotels").select("hotel_id", "hotel_name")
    except FileNotFoundError as exc:
        _warn_if_damaged(exc)
        return df
    return df.join(names, on="hotel_id", how="left", maintain_order="left")


def _warn_if_damaged(exc: FileNotFoundError) -> None:
    # A missing optional table is normal; a damaged one is said, with its file, and left out like a missing one.
    if isinstance(exc, DamagedFileError):
        print(f"warning: {safe_text(str(exc))}", file=sys.stderr)


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` with the report served beside it (the report asset's `open_report` link)."""
    import subprocess

    from hotelcap_pipeline.report.serve import REPORT_URL_ENV, report_url, serve_report

    store = DataStore.at(load_settings().data_store)
    try:
        server = serve_report(store.report, args.report_port)
    except OSError as exc:
        print(f"cannot serve the report on 127.0.0.1:{args.report_port} ({exc}); give --report-port", file=sys.stderr)
        return 1
    print(f"report: {report_url(args.report_port)} (from {store.location(store.report)})")
    try:
        # The report asset's `open_report` link follows the port chosen here.
        env = {**os.environ, REPORT_URL_ENV: report_url(args.report_port)}
        return subprocess.call([sys.executable, "-m", "dagster", "dev", "-w", args.workspace], env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        server.shutdown()


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1 (a negative limit would silently drop rows)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: must be at least 1")
    return number


def port_number(value: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    number = positive_int(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"{value!r}: a port is at most 65535")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotelcap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mat = sub.add_parser("materialize", help="materialize assets (default: the whole graph), every shard included")
    mat.add_argument("--select", action="append", metavar="KEY,KEY...",
                     help="asset keys, comma-separated; missing or stale upstream assets are added")
    mat.add_argument("--config-json", help="Dagster run config as JSON (e.g. ops.sampled_hotels.config.n_hotels)")
    mat.set_defaults(func=cmd_materialize)
    search = sub.add_parser("search", help="search the stored tables by tag words or by free text")
    search.add_argument("words", nargs="*", help="vocabulary words, e.g. bed window")
    search.add_argument("--text", help="free-text CLIP query against the stored embeddings")
    search.add_argument("--method", default="calibrated", help="tagging method whose tags to search")
    search.add_argument("--limit", type=positive_int, default=10, help="rows to show (at least 1)")
    search.set_defaults(func=cmd_search)
    ui = sub.add_parser("ui", help="the Dagster web UI (dagster dev) with the report served beside it")
    ui.add_argument("--workspace", default="workspace.yaml", help="the Dagster workspace file")
    ui.add_argument("--report-port", type=port_number, default=3001, help="port of the report on 127.0.0.1")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        load_settings()  # a bad HOTELCAP_* value is one line naming it, before anything else loads
        for warning in unknown_variables():
            print(safe_text(warning), file=sys.stderr)
        # The commands that run Dagster need its folder: one that cannot be used is one line too.
        args.dagster_home = ensure_dagster_home() if args.func in (cmd_materialize, cmd_ui) else None
    except ValueError as exc:
        print(safe_text(str(exc)), file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (`hotelcap search ... | head`): stop quietly, as other Unix tools do. stdout is
        # pointed at /dev/null so that Python's flush at exit does not fail again with a traceback.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # killed by SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
