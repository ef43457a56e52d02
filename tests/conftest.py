"""Every test runs offline on the demo profile, with a throwaway Dagster instance and data store."""

import os
import shutil
import tempfile

# Before any hotelcap import: resources read the HOTELCAP_* defaults when their module loads.
os.environ["HOTELCAP_PROFILE"] = "demo"
_THROWAWAY = [tempfile.mkdtemp(prefix="hotelcap-test-store-")]
os.environ["HOTELCAP_DATA_STORE"] = _THROWAWAY[0]
if "DAGSTER_HOME" not in os.environ:
    _THROWAWAY.append(tempfile.mkdtemp(prefix="hotelcap-test-dagster-"))
    os.environ["DAGSTER_HOME"] = _THROWAWAY[-1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_unconfigure(config) -> None:
    # The folders made above, so that repeated test runs do not pile them up in the temp folder.
    for folder in _THROWAWAY:
        shutil.rmtree(folder, ignore_errors=True)
