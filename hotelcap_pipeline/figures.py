"""PNG figures without pyplot's global state (safe in threads and without a display)."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure


def new_figure(width: float = 6, height: float = 3.5, ncols: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(ncols=ncols)


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
