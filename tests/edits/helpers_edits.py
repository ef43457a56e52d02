"""Helpers the edit tests share (a uniquely named module: the test folders are not packages)."""

from __future__ import annotations

from hotelcap_pipeline.edits.pipeline import DiffusionEditor, DiffusionEditors


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
