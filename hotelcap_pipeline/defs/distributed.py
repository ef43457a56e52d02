"""Scale-out on a distributed engine: the sharded stages as Celery tasks on worker processes.

`distributed_shards_job` runs hotel_images and image_embeddings with dagster-celery's executor: the run
process only orchestrates, every step is a task on the broker's `dagster` queue, and whichever Celery
worker takes it runs it (on this machine or any other that shares the data store and the Dagster
instance). A backfill of the job launches one run per shard, so the 8 shards spread over the workers.

Broker and result backend: HOTELCAP_CELERY_BROKER and HOTELCAP_CELERY_BACKEND (default: Redis on
127.0.0.1:6379, databases 0 and 1). Workers: see docs/stages.md, "Scale".
"""

import os

import dagster as dg
from dagster_celery import celery_executor

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/1"


def celery_settings(environ: os._Environ | dict[str, str] | None = None) -> dict[str, str]:
    """The executor's broker and result backend, from the environment of the process that loads the code."""
    env = os.environ if environ is None else environ
    return {
        "broker": env.get("HOTELCAP_CELERY_BROKER") or DEFAULT_BROKER,
        "backend": env.get("HOTELCAP_CELERY_BACKEND") or DEFAULT_BACKEND,
    }


distributed_shards_job = dg.define_asset_job(
    "distributed_shards_job",
    selection=dg.AssetSelection.assets("hotel_images", "image_embeddings"),
    executor_def=celery_executor.configured(celery_settings(), name="celery"),
    description="hotel_images and image_embeddings with every step a Celery task on the workers listening to "
    "HOTELCAP_CELERY_BROKER (default redis://127.0.0.1:6379/0). Backfill it to spread the shards over the "
    "workers; start workers with `dagster-celery worker start -A dagster_celery.app -y <celery.yaml>`.",
)
