"""Every test runs offline on the demo profile, with a throwaway Dagster instance and data store."""

import os
import tempfile

# Before any hotelcap import: resources read the HOTELCAP_* defaults when their module loads.
os.environ["HOTELCAP_PROFILE"] = "demo"
os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="hotelcap-test-dagster-"))
os.environ["HOTELCAP_DATA_STORE"] = tempfile.mkdtemp(prefix="hotelcap-test-store-")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
