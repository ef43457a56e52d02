"""The tagging methods and their default decision thresholds (kept free of torch, for light imports)."""

from typing import Literal, get_args

TaggingMethod = Literal["seed", "ensemble", "calibrated"]
METHODS: tuple[TaggingMethod, ...] = get_args(TaggingMethod)
DEFAULT_THRESHOLDS: dict[str, float] = {"seed": 0.25, "ensemble": 0.25, "calibrated": 1.0}
SCORE_KINDS: dict[str, str] = {"seed": "cosine", "ensemble": "cosine", "calibrated": "z"}
# The method whose tags the clusters, the edit selection and `hotelcap search` use by default.
PRIMARY_METHOD: TaggingMethod = "calibrated"
