"""The `hotelcap` command: `materialize` runs the asset graph, `search` queries the stored tables."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from hotelcap_pipeline.settings import ensure_dagster_home, load_settings
from hotelcap_pipeline.store import DataStore


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
        plan = plan_run(defs, instance, select)
        for key, why in plan.added.items():
            print(f"adding upstream {key.to_user_string()} ({why})")
        names = ", ".join(k.to_user_string() for k in plan.keys)
        print(f"materializing {len(plan.keys)} asset(s): {names}")
        result = run_plan(defs, instance, plan, run_config)
    store = DataStore.at(load_settings().data_store).root
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"run {result.run_id} FAILED at: {', '.join(failed) or 'unknown step'}", file=sys.stderr)
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
                print(event.step_failure_data.error.to_string(), file=sys.stderr)
        return 1
    print(f"run {result.run_id} succeeded (DAGSTER_HOME={home})")
    print(f"outputs: {store}/tables/<asset>.parquet and the rest of {store}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotelcap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mat = sub.add_parser("materialize", help="materialize assets (default: the whole graph), every shard included")
    mat.add_argument("--select", action="append", metavar="KEY,KEY...",
                     help="asset keys, comma-separated; missing or stale upstream assets are added")
    mat.add_argument("--config-json", help="Dagster run config as JSON (e.g. ops.sampled_hotels.config.n_hotels)")
    mat.set_defaults(func=cmd_materialize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
