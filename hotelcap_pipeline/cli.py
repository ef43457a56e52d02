"""The `hotelcap` command: `materialize` runs the asset graph, `search` queries the stored tables."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hotelcap_pipeline.settings import ensure_dagster_home, load_settings
from hotelcap_pipeline.store import DataStore

if TYPE_CHECKING:
    import polars as pl


def _split_keys(value: str) -> list[str]:
    return [k.strip() for k in value.split(",") if k.strip()]


def cmd_materialize(args: argparse.Namespace) -> int:
    home = ensure_dagster_home()
    import dagster as dg

    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.defs.materialize import plan_run, run_plan

    select = [k for group in args.select or [] for k in _split_keys(group)]
    run_config = json.loads(args.config_json) if args.config_json else None
    with dg.DagsterInstance.get() as instance:
        # Hash the inputs under assets/ first, so an edited vocabulary or edit series counts as stale.
        defs.resolve_job_def("observe_inputs_job").execute_in_process(instance=instance)
        plan = plan_run(defs, instance, select)
        for key, why in plan.added.items():
            print(f"adding upstream {key.to_user_string()} ({why})")
        names = ", ".join(k.to_user_string() for k in plan.keys)
        print(f"materializing {len(plan.keys)} asset(s): {names}")
        result = run_plan(defs, instance, plan, run_config)
    store = DataStore.at(load_settings().data_store)
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"run {result.run_id} FAILED at: {', '.join(failed) or 'unknown step'}", file=sys.stderr)
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
                print(event.step_failure_data.error.to_string(), file=sys.stderr)
        return 1
    print(f"run {result.run_id} succeeded (DAGSTER_HOME={home})")
    print(f"outputs: {store.location(store.tables)}/<asset>.parquet and the rest of {store.location(store.root)}/")
    if dg.AssetKey("report") in plan.keys:
        print(f"report: {store.location(store.report / 'index.html')} (and report.md beside it)")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    import polars as pl

    from hotelcap_pipeline.tagging.search import UnknownTagError, format_table, search_by_tags, search_by_text
    from hotelcap_pipeline.tagging.vocabulary import load_vocabulary

    settings = load_settings()
    store = DataStore.at(settings.data_store)
    try:
        if args.text:
            from hotelcap_pipeline.models import load_clip_from_settings

            embeddings = store.read_table("image_embeddings")
            photos = search_by_text(embeddings, load_clip_from_settings(settings), args.text, args.limit)
            print(f"photos closest to {args.text!r} (CLIP cosine):")
            print(format_table(_with_captions(store, _with_hotel_names(store, photos), args.method)))
            return 0
        if not args.words:
            print("give tag words (hotelcap search bed window) or --text 'free text'", file=sys.stderr)
            return 2
        tags = store.read_table("image_tags")
        hotels, photos = search_by_tags(tags, args.words, args.limit, method=args.method,
                                        vocabulary=load_vocabulary())
    except FileNotFoundError as exc:
        print(f"{exc}\nRun `hotelcap materialize` first (the search reads the stored tables only).", file=sys.stderr)
        return 1
    except (UnknownTagError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"hotels ranked by the words {', '.join(args.words)} (method {args.method}):")
    print(format_table(_with_hotel_names(store, hotels)))
    print("\nphotos:")
    print(format_table(photos.with_columns(pl.col("score").round(3))))
    return 0


def _with_captions(store: DataStore, df: pl.DataFrame, method: str) -> pl.DataFrame:
    """The photos' captions in the visitors' words, from the stored tags (when tagged)."""
    import polars as pl

    try:
        tags = store.read_table("image_tags")
    except FileNotFoundError:
        return df
    captions = tags.filter(pl.col("method") == method).select("image_id", "caption")
    return df.join(captions, on="image_id", how="left", maintain_order="left")


def _with_hotel_names(store: DataStore, df: pl.DataFrame) -> pl.DataFrame:
    try:
        names = store.read_table("hotels").select("hotel_id", "hotel_name")
    except FileNotFoundError:
        return df
    return df.join(names, on="hotel_id", how="left", maintain_order="left")


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
    search.add_argument("--limit", type=int, default=10)
    search.set_defaults(func=cmd_search)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
