"""Matplotlib figures as PNG bytes (headless), shared by every stage that draws."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def new_figure(width: float = 6, height: float = 3.5) -> tuple[Any, Any]:
    return plt.subplots(figsize=(width, height))


def figure_png(fig: Any, dpi: int = 100) -> bytes:
    """Render and close ``fig``; closing matters in long-running Dagster processes."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
