"""CLIP in the layouts users keep (open_clip hub snapshot folders, hf-hub: names served from the local cache),
and offline hub errors that are one quick line naming what to set."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hotelcap_pipeline import models
from hotelcap_pipeline.models import ModelUnavailableError, load_clip_by_id, resolve_clip
from hotelcap_pipeline.settings import DEMO_CLIP_MODEL, Settings
from hotelcap_pipeline.tagging.clip_model import MODEL_CONFIGS_DIR, ClipModel, load_clip

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def open_clip_folder(folder: Path, demo_checkpoint: Path) -> Path:
    """The layout of an open_clip repo on the hub: open_clip_config.json + open_clip_model.safetensors."""
    from safetensors.torch import save_file

    config = json.loads((MODEL_CONFIGS_DIR / f"{DEMO_CLIP_MODEL}.json").read_text())
    preprocess = config.pop("preprocess_cfg")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": preprocess}))
    state = torch.load(demo_checkpoint, weights_only=True)
    save_file({k: v.float().contiguous() for k, v in state.items()}, str(folder / "open_clip_model.safetensors"))
    return folder


def hub_cache_with(cache: Path, repo: str, demo_checkpoint: Path) -> Path:
    """A Hugging Face cache holding ``repo`` as the hub client lays it out (refs/main -> snapshots/<commit>)."""
    root = cache / f"models--{repo.replace('/', '--')}"
    open_clip_folder(root / "snapshots" / COMMIT, demo_checkpoint)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(COMMIT)
    return cache


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_local_snapshot_folder_loads_and_matches_the_checkpoint(
    tmp_path: Path, demo_checkpoint: Path, demo_clip: ClipModel
) -> None:
    folder = open_clip_folder(tmp_path / "snapshot", demo_checkpoint)
    for name, pretrained in [(str(folder), ""), (f"local-dir:{folder}", ""), (DEMO_CLIP_MODEL, str(folder))]:
        clip = load_clip(name, pretrained, device="cpu")
        assert clip.model_id.startswith("snapshot/sha256:")
        assert clip.embed_dim == 64 and clip.image_size == 96
        texts = ["a photo of a bed", "a photo of a lamp"]
        np.testing.assert_allclose(clip.encode_texts(texts), demo_clip.encode_texts(texts), atol=1e-5)


def test_hf_hub_name_offline_comes_from_the_local_cache(
    tmp_path: Path, demo_checkpoint: Path, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    cache = hub_cache_with(tmp_path / "hub", "acme/room-clip", demo_checkpoint)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    clip = load_clip("hf-hub:acme/room-clip", "", device="cpu")
    assert clip.model_id.startswith("hf-hub:acme/room-clip+config:")
    assert clip.encode_texts(["a bed"]).shape == (1, 64)


def _with_preprocess(folder: Path, **preprocess: object) -> None:
    """Rewrite the folder's open_clip_config.json with other preprocessing, the weights left as they are."""
    path = folder / "open_clip_config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "preprocess_cfg": {**config["preprocess_cfg"], **preprocess}}))


def test_a_folder_or_hub_config_is_part_of_the_model_id(
    tmp_path: Path, demo_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same weights, another open_clip_config.json: another model id, so nothing made before is reused."""
    from huggingface_hub import constants

    folder = open_clip_folder(tmp_path / "snapshot", demo_checkpoint)
    before = resolve_clip(str(folder), "").model_id
    weights = before.partition("+config:")[0]
    assert weights.startswith("snapshot/sha256:") and before != weights
    # Loaded with the shipped architecture's own preprocessing, which this folder's config repeats: one id.
    assert resolve_clip(DEMO_CLIP_MODEL, str(folder)).model_id == before
    path = folder / "open_clip_config.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=2))  # formatting alone changes nothing
    assert resolve_clip(f"local-dir:{folder}", "").model_id == before
    _with_preprocess(folder, mean=[0.5, 0.5, 0.5])
    after = resolve_clip(str(folder), "").model_id
    assert after != before and after.startswith(weights + "+config:")

    # A hub repo: the snapshot's config offline and the fetched one online give the same id.
    cache = hub_cache_with(tmp_path / "hub", "acme/room-clip", demo_checkpoint)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    snapshot = cache / "models--acme--room-clip" / "snapshots" / COMMIT
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline_id = resolve_clip("hf-hub:acme/room-clip", "").model_id
    assert offline_id.startswith("hf-hub:acme/room-clip+config:")
    assert load_clip_by_id(offline_id, Settings(device="cpu")).model_id == offline_id
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(models, "hub_offline", lambda: False)
    monkeypatch.setattr("huggingface_hub.hf_hub_download",
                        lambda repo, filename: str(snapshot / filename) if repo == "acme/room-clip" else "")
    assert resolve_clip("hf-hub:acme/room-clip", "").model_id == offline_id
    _with_preprocess(snapshot, interpolation="bilinear")
    assert resolve_clip("hf-hub:acme/room-clip", "").model_id != offline_id


def test_another_folder_config_embeds_again(tmp_path: Path, demo_checkpoint: Path) -> None:
    """The stored table as the cache: a folder whose config changed reuses none of its embeddings."""
    from test_embed import _manifest

    from hotelcap_pipeline.tagging.embed import embed_images
    from hotelcap_pipeline.tagging.text_cache import CachedTextEncoder

    folder = open_clip_folder(tmp_path / "snapshot", demo_checkpoint)
    manifest = _manifest(tmp_path / "store", 3)
    before = load_clip(str(folder), "", device="cpu")
    first, stats = embed_images(manifest, tmp_path / "store", before, None)
    assert (stats["computed"], stats["reused"]) == (3, 0)
    _with_preprocess(folder, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    after = load_clip(str(folder), "", device="cpu")
    again, stats = embed_images(manifest, tmp_path / "store", after, first)
    assert (stats["computed"], stats["reused"]) == (3, 0)
    assert again["model"].unique().to_list() != first["model"].unique().to_list()
    assert not np.allclose(np.stack(again["embedding"].to_list()), np.stack(first["embedding"].to_list()))
    # The prompt embeddings are kept per model id: another file, encoded afresh.
    assert CachedTextEncoder(after, tmp_path).path != CachedTextEncoder(before, tmp_path).path


def test_offline_without_cache_is_one_quick_line(
    tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as default_tag:
        load_clip("ViT-B-32", "laion2b_s34b_b79k", device="cpu")
    with pytest.raises(ModelUnavailableError) as hub_name:
        load_clip("hf-hub:acme/absent", "", device="cpu")
    assert time.perf_counter() - start < 5
    assert "HOTELCAP_CLIP_PRETRAINED=/path/to/open_clip_model.safetensors" in str(default_tag.value)
    assert "HF_HUB_OFFLINE" in str(default_tag.value) and "\n" not in str(default_tag.value)
    assert "HOTELCAP_CLIP_MODEL" in str(hub_name.value) and "\n" not in str(hub_name.value)


def test_unreachable_hub_is_probed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without HF_HUB_OFFLINE the hub is asked once (a refused connection here), then the answer is kept."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    models._hub_reachable.cache_clear()
    calls = []
    real = models.socket.create_connection

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(models.socket, "create_connection", counting)
    assert models.hub_offline() and models.hub_offline()
    assert len(calls) == 1
    with pytest.raises(ModelUnavailableError, match="unreachable"):
        resolve_clip("ViT-B-32", "laion2b_s34b_b79k")
    models._hub_reachable.cache_clear()


def test_the_hub_probe_goes_to_the_proxy_a_request_would_use(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert models._probe_address("https://huggingface.co") == ("huggingface.co", 443)
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    assert models._probe_address("https://huggingface.co") == ("proxy.internal", 3128)
    monkeypatch.setenv("no_proxy", "huggingface.co")
    assert models._probe_address("https://huggingface.co") == ("huggingface.co", 443)


def test_search_model_is_the_one_recorded_with_the_embeddings(demo_clip: ClipModel) -> None:
    """Default (hotels50k) settings, offline: the recorded demo model is found, not the default downloaded."""
    clip = load_clip_by_id(demo_clip.model_id, Settings(device="cpu"))
    assert clip.model_id == demo_clip.model_id
    with pytest.raises(ModelUnavailableError, match="not available locally"):
        load_clip_by_id("ViT-L-14/sha256:000000000000", Settings(device="cpu"))


def test_search_text_cli_after_the_demo_without_its_profile(
    tmp_path: Path, demo_clip: ClipModel, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hotelcap search --text` in the default profile, offline, over the demo's embeddings: no download."""
    import polars as pl

    from hotelcap_pipeline.cli import main
    from hotelcap_pipeline.tagging.embed import embedding_series

    texts = ["a photo of a bed", "a photo of a lamp"]
    table = pl.DataFrame({"image_id": [1, 2], "hotel_id": [10, 20], "chain_id": [0, 0],
                          "model": [demo_clip.model_id] * 2}).with_columns(
        embedding_series(demo_clip.encode_texts(texts)))
    (tmp_path / "tables").mkdir()
    table.write_parquet(tmp_path / "tables" / "image_embeddings.parquet")
    monkeypatch.setenv("HOTELCAP_PROFILE", "hotels50k")
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(tmp_path))
    monkeypatch.setenv("HOTELCAP_DEVICE", "cpu")
    assert main(["search", "--text", "a lamp"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[3].split()[0] == "2"  # the lamp photo first
    table.with_columns(pl.lit("ViT-L-14/sha256:000000000000").alias("model")).write_parquet(
        tmp_path / "tables" / "image_embeddings.parquet")
    assert main(["search", "--text", "a lamp"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not available locally" in err[0]


def test_pretrained_tag_offline_is_served_from_the_cache_with_its_settings(
    tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default tag, cached by an earlier online run: found as a file, keeping the tag's id and preprocessing."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    weights = repo / "snapshots" / COMMIT / "open_clip_model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"cached weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    source = resolve_clip("ViT-B-32", "laion2b_s34b_b79k")
    assert Path(source.pretrained) == weights
    assert source.model_id == "ViT-B-32/laion2b_s34b_b79k"  # the same id as when it was downloaded
    assert dict(source.options)["image_interpolation"] == "bicubic"


def test_unloadable_checkpoints_say_why_and_what_to_set(tmp_path: Path, demo_checkpoint: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError) as caught:
        load_clip(DEMO_CLIP_MODEL, str(garbage), "cpu")
    message = str(caught.value)
    # torch's own text advises weights_only=False, i.e. running whatever the file holds: never pass that on.
    assert "not a checkpoint torch reads with weights_only=True" in message and "Re-running" not in message
    assert "HOTELCAP_CLIP_PRETRAINED" in message
    # Another architecture's weights: the first mismatch, not just "Error(s) in loading state_dict".
    state = torch.load(demo_checkpoint, weights_only=True)
    key = next(k for k in state if k.startswith("visual."))
    state[key] = torch.zeros(*(n + 1 for n in state[key].shape))
    wrong = tmp_path / "wrong.pt"
    torch.save(state, wrong)
    with pytest.raises(ModelUnavailableError, match=rf"size mismatch for {key}.*HOTELCAP_CLIP_MODEL names the"):
        load_clip(DEMO_CLIP_MODEL, str(wrong), "cpu")


def test_quick_gelu_tag_builds_the_same_network_online_and_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI's weights were trained with QuickGELU; one model id must name one network whichever way it is found."""
    cached = tmp_path / "open_clip_model.safetensors"
    cached.write_bytes(b"cached weights")
    monkeypatch.setattr(models, "_tag_file_in_cache", lambda model_name, tag: cached)
    monkeypatch.setattr(models, "hub_offline", lambda: True)
    offline_source = resolve_clip("ViT-B-32", "openai")
    monkeypatch.setattr(models, "hub_offline", lambda: False)
    online_source = resolve_clip("ViT-B-32", "openai")
    assert online_source.model_id == offline_source.model_id == "ViT-B-32/openai"
    assert online_source.pretrained == "openai"  # still downloaded by open_clip itself
    assert dict(online_source.options) == dict(offline_source.options)
    assert dict(online_source.options)["force_quick_gelu"] is True


def torchscript_file(path: Path) -> Path:
    """A TorchScript archive, the format OpenAI's clip package downloads its models in."""
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated, and still how they are made
        torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
    return path


def test_torchscript_weights_are_refused_with_what_to_set(
    tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI's clip package leaves TorchScript in ~/.cache/clip: refused up front, without torch's advice."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    torchscript_file(tmp_path / ".cache" / "clip" / "ViT-B-32.pt")
    with pytest.raises(ModelUnavailableError) as cached:
        resolve_clip("ViT-B-32", "openai")
    given = torchscript_file(tmp_path / "ViT-B-32.pt")
    with pytest.raises(ModelUnavailableError) as named:
        load_clip(DEMO_CLIP_MODEL, str(given), "cpu")
    for caught in (cached, named):
        message = str(caught.value)
        assert "TorchScript" in message and "HOTELCAP_CLIP_PRETRAINED" in message and "\n" not in message
        assert "weights_only" not in message and "Re-running" not in message


def test_torch_advice_to_drop_weights_only_is_never_passed_on() -> None:
    from hotelcap_pipeline.tagging.clip_model import _load_failure

    advice = ("In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from "
              "`False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, "
              "but it can result in arbitrary code execution. Do it only if you got the file from a trusted source.")
    legacy = RuntimeError(f"Cannot use ``weights_only=True`` with files saved in the legacy .tar format. {advice}")
    assert _load_failure(legacy) == "Cannot use ``weights_only=True`` with files saved in the legacy .tar format."
    assert _load_failure(RuntimeError(f"Some other failure:\n{advice}")) == "Some other failure:"
