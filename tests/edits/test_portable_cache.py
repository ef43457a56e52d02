"""Edits are keyed by what the model is, not where it lies: a moved or copied data store renders nothing again."""

from __future__ import annotations

import shutil

from helpers_edits import CountingEditors
from test_render import series

from hotelcap_pipeline.edits.cache import cache_key, model_identity
from hotelcap_pipeline.edits.pipeline import DiffusionEditors
from hotelcap_pipeline.edits.render import render_edits


def _editors_in(models) -> DiffusionEditors:
    return DiffusionEditors(str(models / "sd"), ip2p_model=str(models / "ip2p"),
                            controlnet_model=str(models / "controlnet"), device="cpu")


def test_a_copied_store_with_its_models_renders_nothing_again(photo_store, tiny_models, fake_clip, tmp_path_factory):
    root, selection = photo_store
    for name, folder in tiny_models.items():
        shutil.copytree(folder, root / "models" / name)
    all_series = [series("night"), series("lights_off", "controlnet")]
    first = render_edits(selection, root, all_series, _editors_in(root / "models"), fake_clip, None, max_side=64)
    assert first["status"].to_list() == ["ok"] * 6

    moved = tmp_path_factory.mktemp("moved") / "data_store"
    shutil.copytree(root, moved)
    counting = CountingEditors(_editors_in(moved / "models"))
    again = render_edits(selection, moved, all_series, counting, fake_clip, first, max_side=64)
    assert counting.calls == 0 and again["reused"].all()
    assert again["cache_key"].to_list() == first["cache_key"].to_list()


def test_model_identity_follows_content_not_path(tiny_models, tmp_path):
    copy = tmp_path / "elsewhere" / "sd"
    shutil.copytree(tiny_models["sd"], copy)
    assert model_identity(str(copy)) == model_identity(str(tiny_models["sd"]))
    assert str(tmp_path) not in model_identity(str(copy))
    assert model_identity("org/some-model") == "org/some-model"
    assert model_identity(f"{copy}|org/cn") == f"{model_identity(str(copy))}|org/cn"
    weights = next(p for p in copy.rglob("*") if p.suffix in (".safetensors", ".bin"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    assert model_identity(str(copy)) != model_identity(str(tiny_models["sd"]))
    assert cache_key({"model": str(copy)}) != cache_key({"model": str(tiny_models["sd"])})
