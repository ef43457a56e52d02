"""Helpers the edit tests share (a uniquely named module: the test folders are not packages)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from hotelcap_pipeline.edits.pipeline import DiffusionEditor, DiffusionEditors, Rendered


class CountingEditors:
    """Counts the editors handed out: the renderer asks for one only when it must render."""

    def __init__(self, inner: DiffusionEditors) -> None:
        self.inner = inner
        self.calls = 0

    def model_for(self, mode: str) -> str:
        return self.inner.model_for(mode)

    def unavailable(self, mode: str) -> str | None:
        return self.inner.unavailable(mode)

    def editor_for(self, mode: str) -> DiffusionEditor:
        self.calls += 1
        return self.inner.editor_for(mode)


class FakeEditors:
    """A diffusion source without a model: black (NaN-like) renders while ``black`` or at a strength in
    ``black_at``, else a darkened photo. Counts its renders in ``calls``."""

    def __init__(self, model: str = "fake-model", black: bool = False, black_at: tuple[float, ...] = ()) -> None:
        self.model = model
        self.black = black
        self.black_at = black_at
        self.calls = 0

    def model_for(self, mode: str) -> str:
        return self.model

    def unavailable(self, mode: str) -> str | None:
        return None

    def editor_for(self, mode: str) -> FakeEditors:
        return self

    def edit(self, image: Image.Image, *, strength: float, size: tuple[int, int], **_: object) -> Rendered:
        self.calls += 1
        if self.black or strength in self.black_at:
            return Rendered(Image.new("RGB", size), None, True)
        pixels = np.asarray(image.convert("RGB").resize(size), dtype=np.float32) * (1 - strength / 2)
        return Rendered(Image.fromarray(pixels.astype(np.uint8)), None, False)
