"""The tagging methods and their default decision thresholds (kept free of torch, for light imports)."""

METHODS = ("seed", "ensemble", "calibrated")
DEFAULT_THRESHOLDS = {"seed": 0.25, "ensemble": 0.25, "calibrated": 1.0}
SCORE_KINDS = {"seed": "cosine", "ensemble": "cosine", "calibrated": "z"}
# The method whose tags the clusters, the edit selection and `hotelcap search` use by default.
PRIMARY_METHOD = "calibrated"
