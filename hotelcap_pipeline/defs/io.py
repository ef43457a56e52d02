"""Parquet IO for every table asset: ``tables/<key>.parquet``, or a folder of shard files."""

from __future__ import annotations

import hashlib
import warnings

import dagster as dg
import polars as pl

from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.defs.ui_metadata import COLUMN_SCHEMA, table_metadata, table_schema
from hotelcap_pipeline.store import write_parquet_atomic


def content_version(table: pl.DataFrame) -> str:
    """A version of the table's columns and rows: the same table gives the same version in any run."""
    digest = hashlib.sha256(repr(list(table.schema.items())).encode())
    if table.width and table.height:
        digest.update(table.hash_rows(seed=0, seed_1=1, seed_2=2, seed_3=3).to_numpy().tobytes())
    return digest.hexdigest()[:20]


def table_output(table: pl.DataFrame, output_name: str = "result") -> dg.Output:
    """An unsharded table asset's output, versioned by its content: Dagster's own version is built from the
    code version and the inputs' versions only, so a run with other settings (more hotels, another seed) would
    look unchanged and its dependants fresh; with the content's version they are stale exactly when it changed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # printed on every output of every run otherwise
        return dg.Output(table, output_name=output_name, data_version=dg.DataVersion(content_version(table)))


class ParquetTableIOManager(dg.IOManager):
    """Writes polars tables atomically; sharded assets split their output by the ``shard`` column."""

    def __init__(self, settings: HotelcapSettings) -> None:
        self.settings = settings

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a polars DataFrame, got {type(obj)}")
        store = self.settings.store()
        key_name = context.asset_key.path[-1]
        path = store.table(key_name)
        if context.has_asset_partitions:
            if "shard" not in obj.columns:
                raise ValueError(f"{context.asset_key.to_user_string()}: a sharded table needs a 'shard' column")
            files = [path / f"{key}.parquet" for key in context.asset_partition_keys]
            for key, file in zip(context.asset_partition_keys, files, strict=True):
                part = obj.filter(pl.col("shard") == key)
                write_parquet_atomic(part, file)
                # Each shard's materialization shows its own rows and file, not the whole run's; no preview:
                # the file is linked and the asset's own metadata (a contact sheet, counts) shows the shard.
                context.step_context.add_asset_metadata(
                    table_metadata(part, key_name, store.location(file), schema=_schema_differs(context, part),
                                   preview_rows=0),
                    asset_key=context.asset_key, partition_key=key,
                )
            store.push(files)
            return
        write_parquet_atomic(obj, path)
        store.push([path])
        # On the materialization only (output metadata would be stored a second time, in the output event).
        context.step_context.add_asset_metadata(
            table_metadata(obj, key_name, store.location(path), schema=_schema_differs(context, obj)),
            asset_key=context.asset_key,
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        store = self.settings.store()
        if context.has_asset_partitions:
            return store.read_shards(context.asset_key.path[-1], context.asset_partition_keys)
        return store.read_table(context.asset_key.path[-1])


def _schema_differs(context: dg.OutputContext, table: pl.DataFrame) -> bool:
    """Whether the materialization must carry the table's column schema: the UI shows the schema declared on
    the asset when a materialization carries none, so it is repeated only where the columns differ from it."""
    declared = (context.definition_metadata or {}).get(COLUMN_SCHEMA)
    declared = getattr(declared, "schema", declared)  # a TableSchemaMetadataValue once Dagster normalised it
    return declared != table_schema(table, context.asset_key.path[-1])


@dg.io_manager(required_resource_keys={"settings"}, description="Parquet tables under <data store>/tables/.")
def parquet_io_manager(init_context: dg.InitResourceContext) -> ParquetTableIOManager:
    # Take `settings` by resource key, so a data store chosen in the Launchpad (run config) reaches the IO
    # manager too; a nested resource instance would keep the defaults it was built with.
    return ParquetTableIOManager(init_context.resources.settings)
