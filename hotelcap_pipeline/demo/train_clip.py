"""The demo profile's CLIP: a small open_clip model trained contrastively on renders of the synthetic world.

    python -m hotelcap_pipeline.demo.train_clip [--out DIR] [--seconds-budget N]

Renders a training set of rooms from many hotels of every chain style (never the demo's hotels), at
real aspect ratios, through the model's own preprocess (a squash resize, so objects near the edges of
wide and tall photos stay in view). Each photo is paired, step by step, with a caption written from its
known truth in one of several wordings: full descriptions, one object in the seed prompt's and the
ensemble templates' forms (with the vocabulary's synonyms), and the edit series' condition phrases.
The model is open_clip's own (``create_model``) trained with its ``ClipLoss``, AdamW and a cosine
schedule, on a fixed number of CPU threads, so the same command gives the same checkpoint bytes.

The checkpoint is then loaded back through ``load_clip`` (the path a user's checkpoint takes) and
measured on held-out renders of the demo's own hotels: per-tag ROC AUC and average precision of each
tagging method's scores. Both land in ``--out``: ``hotelcap-world-clip.pt`` (fp16 weights, to stay
small; open_clip loads them into its fp32 model) and ``hotelcap-world-clip.json`` (its sha256, the
command, timings, versions and the held-out metrics).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from PIL import Image

from hotelcap_pipeline.atomic_files import atomic_path, atomic_write_bytes
from hotelcap_pipeline.criteria import DEMO_CLIP_AUC
from hotelcap_pipeline.demo.dataset import CHAINS, HOTELS, SIZES
from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT, DEMO_CLIP_MODEL
from hotelcap_pipeline.tagging.clip_model import ClipModel, file_sha256, load_clip, preprocess_args
from hotelcap_pipeline.tagging.methods import METHODS, TaggingMethod
from hotelcap_pipeline.tagging.vocabulary import PromptTemplates, Tag, load_templates, load_vocabulary
from hotelcap_pipeline.world import CONDITIONS, RoomSpec, Truth, describe, render, sample_room, truth

COMMAND = "python -m hotelcap_pipeline.demo.train_clip"
THREADS = 2  # fixed, not the machine's count: CPU kernels may sum in another order with other counts
TARGET_MEDIAN_AUC = DEMO_CLIP_AUC.bar  # the one threshold, in criteria

DEMO_CHAIN_IDS: tuple[int, ...] = tuple(chain for chain, _ in CHAINS)
DEMO_HOTEL_IDS = frozenset(hotel for hotel, *_ in HOTELS)
# Chains beyond the demo's, each with its own procedural style, so the model sees many palettes and shapes.
OTHER_CHAIN_IDS: tuple[int, ...] = tuple(range(1001, 1025))

# The edit series' source and target texts (assets/edit_series.yaml), so edits can be scored.
DAY, NIGHT = "a photo of a hotel room in daylight", "a photo of a hotel room at night"
LAMPS_ON, LIGHTS_OFF = "a photo of a hotel room with the lamps on", "a photo of a hotel room with the lights off"
SNOW = "a photo of a hotel room with snow outside the window"
TREES = "a photo of a hotel room with green trees outside the window"
BED = "a photo of a hotel bed"
PETALS = "a photo of a hotel bed covered with red rose petals"
SWAN = "a photo of a white towel swan on a hotel bed"
BED_CONDITIONS = ("rose_petals", "towel_swan")

Preprocess = Callable[[Image.Image], torch.Tensor]
Tokenizer = Callable[[Sequence[str]], torch.Tensor]
Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    photos: int = 9000
    steps: int = 600
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 30
    min_long_side: int = 112  # renders are small (the model sees 96 px) but keep real aspect ratios
    max_long_side: int = 224
    describe_share: float = 0.6  # the rest of the captions: one object, then condition phrases
    object_share: float = 0.25
    # Extra bedrooms with rose petals or a towel swan: small on the bed, and rare among sampled rooms.
    bed_condition_share: float = 0.12


@dataclass(frozen=True)
class EvalConfig:
    seed: int = 1
    photos: int = 300


@dataclass(frozen=True)
class Photo:
    spec: RoomSpec
    size: tuple[int, int]


# --- captions -----------------------------------------------------------------------------------------


def object_caption(label: str, rng: np.random.Generator, vocabulary: dict[str, Tag], templates: PromptTemplates) -> str:
    """One visible object: half in the seed prompt's form, half in an ensemble template with a synonym."""
    if rng.random() < 0.5:
        return templates.seed.format(label=label)
    names = vocabulary[label].names if label in vocabulary else (label,)
    template = templates.ensemble[int(rng.integers(len(templates.ensemble)))]
    return template.format(label=names[int(rng.integers(len(names)))])


def condition_phrase(condition: str, t: Truth) -> str | None:
    """The edit series' phrase for one condition as this photo shows it; None where no phrase is true."""
    on = condition in t.conditions
    if condition == "lights_off":
        # "lamps on" only where a lamp shows, so that "lamp" keeps meaning the object.
        return LIGHTS_OFF if on else (LAMPS_ON if "lamp" in t.tags else None)
    if condition in ("night", "snow"):
        if "window" not in t.tags:
            return None
        if condition == "night":
            return NIGHT if on else DAY
        return SNOW if on else (TREES if "night" not in t.conditions else None)  # green trees show by day
    if "bed" not in t.tags:
        return None
    return (PETALS if condition == "rose_petals" else SWAN) if on else BED


def condition_captions(t: Truth) -> list[str]:
    """Every edit series phrase that holds for this photo."""
    return list(dict.fromkeys(p for c in CONDITIONS if (p := condition_phrase(c, t)) is not None))


def pick_object(t: Truth, rng: np.random.Generator, rarity: dict[str, float]) -> str:
    """A visible object, rarer ones more often: a common object's caption often repeats within a batch."""
    weights = np.cumsum([rarity.get(label, 1.0) for label in t.tags])
    return t.tags[int(np.searchsorted(weights, rng.random() * weights[-1], side="right"))]


def caption(
    t: Truth,
    rng: np.random.Generator,
    vocabulary: dict[str, Tag],
    templates: PromptTemplates,
    cfg: TrainConfig,
    rarity: dict[str, float],
) -> str:
    """A full description, one visible object, or one of the edit series' phrases that holds."""
    draw = rng.random()
    if draw < cfg.describe_share or not t.tags:
        return describe(t, rng)
    if draw < cfg.describe_share + cfg.object_share:
        return object_caption(pick_object(t, rng, rarity), rng, vocabulary, templates)
    phrases = condition_captions(t)
    return phrases[int(rng.integers(len(phrases)))] if phrases else describe(t, rng)


# --- photos ----------------------------------------------------------------------------------------------


def _training_hotel(rng: np.random.Generator) -> tuple[int, int]:
    """Half the photos from the demo chains' styles, half from other chains; never a demo hotel."""
    pool = DEMO_CHAIN_IDS if rng.random() < 0.5 else OTHER_CHAIN_IDS
    chain = pool[int(rng.integers(len(pool)))]
    while True:
        hotel = int(rng.integers(1, 600_000))
        if hotel not in DEMO_HOTEL_IDS:
            return chain, hotel


def _scaled(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = size
    k = long_side / max(w, h)
    return max(16, round(w * k)), max(16, round(h * k))


def _training_room(rng: np.random.Generator, cfg: TrainConfig) -> RoomSpec:
    chain, hotel = _training_hotel(rng)
    if rng.random() < cfg.bed_condition_share:
        condition = BED_CONDITIONS[int(rng.integers(len(BED_CONDITIONS)))]
        return sample_room(rng, chain, hotel, room_kind="bedroom", conditions=[condition])
    return sample_room(rng, chain, hotel)


def training_photos(cfg: TrainConfig) -> list[Photo]:
    rng = np.random.default_rng([cfg.seed, 0])
    photos = []
    for _ in range(cfg.photos):
        spec = _training_room(rng, cfg)
        size = SIZES[int(rng.integers(len(SIZES)))]
        photos.append(Photo(spec, _scaled(size, int(rng.integers(cfg.min_long_side, cfg.max_long_side + 1)))))
    return photos


def held_out_photos(count: int, seed: int) -> list[Photo]:
    """Rooms of the demo's own hotels (never trained on) at the demo's real photo sizes."""
    rng = np.random.default_rng([seed, 7])
    photos = []
    for i in range(count):
        hotel, _name, chain, *_ = HOTELS[i % len(HOTELS)]
        spec = sample_room(rng, chain, hotel)
        photos.append(Photo(spec, SIZES[int(rng.integers(len(SIZES)))]))
    return photos


def preprocessed(photos: Sequence[Photo], preprocess: Preprocess, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(N, 3, S, S): each render through the model's own preprocess."""
    return torch.stack([preprocess(render(p.spec, p.size)).to(dtype) for p in photos])


# --- training ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def deterministic_torch(seed: int, threads: int = THREADS) -> Iterator[None]:
    """Fixed threads, seeds and deterministic kernels for the block; the caller's settings come back after."""
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def cosine_lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * progress))


def _optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """open_clip's recipe: no weight decay on gains, biases, norms and the temperature."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        plain = param.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if plain else decay).append(param)
    groups = [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": cfg.weight_decay}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)


def batches(photos: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches of photo indices, reshuffled every epoch."""
    while True:
        order = rng.permutation(photos)
        for start in range(0, photos - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def train(
    model: torch.nn.Module,
    pixels: torch.Tensor,
    photos: Sequence[Photo],
    tokenizer: Tokenizer,
    cfg: TrainConfig,
    *,
    deadline: float = math.inf,
    log: Log = print,
) -> int:
    """Contrastive steps on (photo, caption) batches; returns the steps done (fewer only past ``deadline``)."""
    import open_clip

    vocabulary = {t.label: t for t in load_vocabulary()}
    templates = load_templates()
    truths = [truth(p.spec) for p in photos]
    counts = Counter(label for t in truths for label in t.tags)
    rarity = {label: len(truths) / n for label, n in counts.items()}
    captions_rng = np.random.default_rng([cfg.seed, 1])
    flip_rng = np.random.default_rng([cfg.seed, 3])
    order = batches(len(photos), cfg.batch_size, np.random.default_rng([cfg.seed, 2]))
    loss_fn = open_clip.ClipLoss()
    optimizer = _optimizer(model, cfg)
    model.train()
    model.to(memory_format=torch.channels_last)  # faster convolutions on CPU
    for step in range(cfg.steps):
        if time.monotonic() > deadline:
            log(f"seconds budget spent after {step} of {cfg.steps} steps: stopping early (not reproducible)")
            return step
        index = next(order)
        images = pixels[torch.from_numpy(index)].float()
        flip = torch.from_numpy(flip_rng.random(len(index)) < 0.5)  # a mirrored room shows the same things
        images[flip] = images[flip].flip(-1)
        images = images.contiguous(memory_format=torch.channels_last)
        texts = tokenizer([caption(truths[i], captions_rng, vocabulary, templates, cfg, rarity) for i in index])
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, cfg)
        image_features, text_features, logit_scale = model(images, texts)
        loss = loss_fn(image_features, text_features, logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.get_parameter("logit_scale").clamp_(0, math.log(100))
        if step % 20 == 0 or step == cfg.steps - 1:
            log(f"step {step + 1}/{cfg.steps} loss {loss.item():.3f} lr {cosine_lr(step, cfg):.2e}")
    return cfg.steps


def save_checkpoint(model: torch.nn.Module, path: Path) -> None:
    """fp16 floating tensors (half the size); written through a file object so no temp name enters the bytes."""
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
        tmp.chmod(0o644)  # a shipped file, readable like the rest of the repository


# --- evaluation --------------------------------------------------------------------------------------------


def tag_truth(photos: Sequence[Photo], labels: Sequence[str]) -> np.ndarray:
    """Boolean (N, T): which vocabulary labels each photo shows."""
    shown = [set(truth(p.spec).tags) for p in photos]
    return np.array([[label in s for label in labels] for s in shown], dtype=bool)


def image_embeddings(clip: ClipModel, photos: Sequence[Photo], batch: int = 32) -> np.ndarray:
    return np.concatenate(
        [clip.encode_pixels(preprocessed(photos[i : i + batch], clip.preprocess)) for i in range(0, len(photos), batch)]
    )


class MethodMetrics(TypedDict):
    median_auc: float
    map: float
    auc: dict[str, float]
    average_precision: dict[str, float]


def ranking_metrics(present: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> MethodMetrics:
    """Per-tag ROC AUC and average precision over the tags with photos that show them and photos that do not."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    auc: dict[str, float] = {}
    ap: dict[str, float] = {}
    for k, label in enumerate(labels):
        column = present[:, k]
        if column.all() or not column.any():
            continue
        auc[label] = round(float(roc_auc_score(column, scores[:, k])), 4)
        ap[label] = round(float(average_precision_score(column, scores[:, k])), 4)
    return {
        "median_auc": round(float(np.median(list(auc.values()))), 4),
        "map": round(float(np.mean(list(ap.values()))), 4),
        "auc": auc,
        "average_precision": ap,
    }


def evaluate(
    clip: ClipModel, photos: Sequence[Photo], methods: Sequence[TaggingMethod] = METHODS
) -> dict[str, MethodMetrics]:
    """Held-out zero-shot tagging quality of each method, from the project's own ``method_scores``."""
    from hotelcap_pipeline.tagging.tags import method_scores

    vocabulary, templates = load_vocabulary(), load_templates()
    labels = [t.label for t in vocabulary]
    images = image_embeddings(clip, photos)
    present = tag_truth(photos, labels)
    return {m: ranking_metrics(present, method_scores(images, clip, vocabulary, m, templates), labels) for m in methods}


def metrics_table(methods: dict[str, MethodMetrics]) -> str:
    """Per-tag AUC per method, then the median AUC and mAP rows."""
    import polars as pl

    from hotelcap_pipeline.table_format import text_table

    names = list(methods)
    tags = list(methods[names[0]]["auc"])
    rows = [{"tag": tag, **{m: round(methods[m]["auc"][tag], 3) for m in names}} for tag in tags]
    rows.append({"tag": "median AUC", **{m: round(methods[m]["median_auc"], 3) for m in names}})
    rows.append({"tag": "mAP", **{m: round(methods[m]["map"], 3) for m in names}})
    return text_table(pl.DataFrame(rows), max_width=None)


# --- the command -------------------------------------------------------------------------------------------


def build(
    out_dir: Path,
    cfg: TrainConfig = TrainConfig(),
    eval_cfg: EvalConfig = EvalConfig(),
    *,
    seconds_budget: float = math.inf,
    command: str = COMMAND,
    log: Log = print,
) -> dict[str, Any]:
    """Train, save the checkpoint, measure it on held-out renders and write the JSON record; returns the record."""
    import open_clip

    started = time.monotonic()
    out_dir = Path(out_dir)
    checkpoint = out_dir / f"{DEMO_CLIP_MODEL}.pt"
    with deterministic_torch(cfg.seed):
        from hotelcap_pipeline.tagging.clip_model import register_model_configs

        register_model_configs()
        model, _, preprocess = open_clip.create_model_and_transforms(
            DEMO_CLIP_MODEL,
            pretrained=None,
            device="cpu",
            **preprocess_args(DEMO_CLIP_MODEL),
        )
        photos = training_photos(cfg)
        log(f"rendering {len(photos)} training photos")
        pixels = preprocessed(photos, preprocess, torch.float16)
        rendered = time.monotonic()
        log(f"rendered in {rendered - started:.0f} s; training {cfg.steps} steps of {cfg.batch_size}")
        steps = train(
            model,
            pixels,
            photos,
            open_clip.get_tokenizer(DEMO_CLIP_MODEL),
            cfg,
            deadline=started + seconds_budget,
            log=log,
        )
        save_checkpoint(model.eval(), checkpoint)
    trained = time.monotonic()
    log(f"trained in {trained - started:.0f} s (rendering included); measuring on held-out renders")
    clip = load_clip(DEMO_CLIP_MODEL, str(checkpoint), device="cpu")
    held_out = held_out_photos(eval_cfg.photos, eval_cfg.seed)
    with deterministic_torch(eval_cfg.seed):
        methods = evaluate(clip, held_out)
    log(metrics_table(methods))
    record: dict[str, Any] = {
        "model": DEMO_CLIP_MODEL,
        "checkpoint": checkpoint.name,
        "sha256": file_sha256(checkpoint),
        "bytes": checkpoint.stat().st_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "command": command,
        "training_seconds": round(trained - started, 1),
        "rendering_seconds": round(rendered - started, 1),
        "threads": THREADS,
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "numpy": np.__version__,
        "train": {**asdict(cfg), "steps_done": steps, "stopped_early": steps < cfg.steps},
        "held_out": {
            **asdict(eval_cfg),
            "hotels": sorted(DEMO_HOTEL_IDS),
            "target_median_auc": TARGET_MEDIAN_AUC,
            "target_met": methods["seed"]["median_auc"] >= TARGET_MEDIAN_AUC,
            "methods": methods,
        },
    }
    record_path = out_dir / f"{DEMO_CLIP_MODEL}.json"
    atomic_write_bytes(record_path, (json.dumps(record, indent=2) + "\n").encode())
    record_path.chmod(0o644)
    return record


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEMO_CLIP_CHECKPOINT.parent, help="default: %(default)s")
    parser.add_argument(
        "--seconds-budget",
        type=float,
        default=720.0,
        help="stop training early past this many seconds (the checkpoint is then not reproducible); "
        "default: %(default)s",
    )
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    record = build(args.out, seconds_budget=args.seconds_budget, command=" ".join([COMMAND, *argv]))
    met = "met" if record["held_out"]["target_met"] else "NOT met"
    print(
        f"wrote {args.out / record['checkpoint']} ({record['bytes'] / 1e6:.1f} MB, sha256 {record['sha256'][:12]}); "
        f"training {record['training_seconds']} s; seed median AUC target {TARGET_MEDIAN_AUC} {met}"
    )


if __name__ == "__main__":
    main()
