"""What every column of the table assets holds: the descriptions of the UI's column schema.

A column means the same wherever it appears (COMMON) unless a table says otherwise (PER_ASSET);
columns named after a vocabulary word or a grouping follow a pattern (PATTERNS).
"""

from __future__ import annotations

COMMON: dict[str, str] = {
    "image_id": "Hotels-50K photo id.",
    "hotel_id": "Hotels-50K hotel id.",
    "chain_id": "Hotels-50K chain id (-1: no chain known).",
    "chain_name": "Chain name from chain_info.csv.",
    "hotel_name": "Hotel name from hotel_info.csv.",
    "latitude": "Hotel latitude, degrees.",
    "longitude": "Hotel longitude, degrees.",
    "image_url": "Where the photo is published upstream.",
    "image_source": "Upstream source of the photo (e.g. travel_website, traffickcam).",
    "upload_timestamp": "Upload time as written upstream (two formats occur).",
    "uploaded_at": "Upload time parsed to a datetime (null when unparsable).",
    "shard": "Partition of the sharded stages: a stable hash of hotel_id (shard-00 .. shard-07).",
    "sha256": "SHA-256 of the stored photo's bytes.",
    "path": "File of this row, relative to the data store root.",
    "model": "Model that produced the row (id, or architecture and weights hash).",
    "method": "Tagging method: seed, ensemble, calibrated (and labelled in tag_evaluation).",
    "tags": "Vocabulary words given to the photo.",
    "seed": "Random seed used.",
    "width": "Width, px.",
    "height": "Height, px.",
    "reused": "True when the stored result of an earlier run was reused (nothing recomputed).",
    "status": "ok, or failed (see error).",
    "error": "Why the row failed (null when ok).",
    "photos": "Number of photos.",
    "hotels": "Number of hotels.",
    "nsfw_flag": "The diffusion safety checker flagged the image.",
    "nan_or_black": "The image came out NaN or all black (a numerical failure).",
    "cache_key": "Hash of everything that determines the output; equal keys are reused.",
    "steps": "Denoising steps.",
    "guidance": "Classifier-free guidance scale.",
    "prompt": "Text prompt of the diffusion model.",
    "clip_image_sim": "Cosine of the CLIP embeddings of edit and original: still the same room? (1 = identical).",
    "directional": "Cosine between the image change and the text change in CLIP space: did the asked change "
    "happen? (> 0: moved as the text did).",
    "ssim": "Structural similarity of 128 px grey versions: is the layout kept? (1 = same structure).",
    "local_change": "Share of the photo (256 px) changed in a way neither the unchanged pixel nor one relighting "
    "of the whole photo explains: something appeared or went (0 = at most the light changed).",
    "change_elsewhere": "Share of the photo changed locally outside the largest changed region (changes at most "
    "16 px apart are one region): what changed besides the main change.",
    "accepted": "Passed the series' fitted acceptance rule (null: the series has no rule).",
    "split": "Which part of the data the row belongs to.",
}

PER_ASSET: dict[str, dict[str, str]] = {
    "train_images": {"image_id": "Train photo id (train_set.csv)."},
    "test_images": {
        "image_id": "Test photo id (test_set.csv).",
        "occlusion": "Least occluded level the test-photo tree holds the photo at: unoccluded, low_occlusions, "
        "medium_occlusions or high_occlusions (null without HOTELCAP_TEST_PHOTOS, or when not in the tree).",
        "occlusions": "Every occlusion level the tree holds the photo at (occluded levels are versions of it).",
        "photo_path": "The photo at that level in the tree: relative to the data store root, or absolute for a "
        "folder outside it (null when not in the tree).",
        "mask_path": "The people-shaped mask of that level's photo, as photo_path (null when unoccluded or none).",
    },
    "dataset_stats": {
        "section": "Part of the dataset review (counts, balance, sources, uploads, fits...).",
        "metric": "What is measured.",
        "value": "The measured value.",
    },
    "sampled_hotels": {
        "n_train_images": "Train photos of the hotel.",
        "sample_rank": "Order of the draw: a larger sample keeps these hotels and adds more.",
        "seed": "Seed of the draw.",
    },
    "hotel_images": {
        "url": "URL the photo was fetched from.",
        "split": "train or test (which Hotels-50K list the photo comes from).",
        "path": "Stored photo, relative to the data store root (null when failed).",
        "width": "Stored width, px (longer side 640).",
        "height": "Stored height, px.",
        "orig_width": "Width of the fetched original, px.",
        "orig_height": "Height of the fetched original, px.",
        "bytes": "Size of the stored JPEG, bytes.",
        "error": "Why the photo failed: HTTP status, timeout, not an image, too large, unsafe path...",
        "reused": "Already stored by an earlier run: not fetched again.",
        "attempts": "Requests made (retries included).",
    },
    "image_embeddings": {
        "model": "CLIP model id (architecture and weights hash).",
        "embedding": "L2-normalised CLIP image embedding (float32, unit length).",
    },
    "image_tags": {
        "caption": "One short sentence in the visitors' words, built from the tags.",
    },
    "tag_evaluation": {
        "method": "Tagging method (labelled: per-tag thresholds fitted on half of the labelled photos).",
        "split": "Photos measured: all labelled photos, or the held-out half (labelled method).",
        "tag": "Vocabulary word (or the caption's tag set).",
        "precision": "Share of the photos given the tag that show it.",
        "recall": "Share of the photos showing the object that were given the tag.",
        "f1": "Harmonic mean of precision and recall.",
        "average_precision": "Average precision of the tag's score ranking.",
        "auc": "ROC AUC of the score, photos showing the object vs not.",
        "auc_low": "Lower end of the AUC's 95% interval (Newcombe's score interval).",
        "auc_high": "Upper end of the AUC's 95% interval (Newcombe's score interval).",
        "n_present": "Labelled photos showing the object.",
        "n_absent": "Labelled photos not showing it.",
        "n_given": "Labelled photos the method gave the tag (null on the caption row).",
        "threshold": "Score threshold the tags were given at.",
        "accuracy": "Caption row: share of captions whose room word is the photo's labelled room kind.",
        "room_photos": "Caption row: labelled photos with a room kind (the accuracy's n).",
        "photos": "Labelled photos measured.",
    },
    "tag_stats": {
        "method": "Tagging method, or 'original study' for the published numbers.",
        "score_kind": "What the scores are: cosine (seed, ensemble) or robust z (calibrated).",
        "photos": "Photos tagged.",
        "hotels": "Hotels tagged.",
        "mean_tags_per_photo": "Mean number of tags per photo.",
        "mean_top1_score": "Mean score of each photo's best tag.",
        "mean_gap_1st_10th": "Mean gap between each photo's 1st and 10th score.",
        "mean_distinct_tags_per_hotel": "Mean number of distinct tags over a hotel's photos.",
        "max_distinct_tags_per_hotel": "Most distinct tags of one hotel.",
        "min_distinct_tags_per_hotel": "Fewest distinct tags of one hotel.",
    },
    "tag_clusters": {
        "room_kind": "Known room kind of the photo (labels file; null when unlabelled).",
        "cluster": "k-modes cluster at k chosen by the cost elbow.",
    },
    "edit_selection": {
        "model": "CLIP model of the embeddings the picks were made on.",
        "path": "Stored photo, relative to the data store root.",
        "tags": "The photo's tags: why it was picked.",
        "rank": "Order of the farthest-point picks (1 first).",
        "min_distance": "Cosine distance to the nearest photo picked before it (null for the first).",
        "new_hotel": "Picked from a hotel not yet picked.",
        "reason": "Why the photo was picked, in words.",
    },
    "edit_validation": {
        "series": "Edit series validated.",
        "room": "Synthetic room number.",
        "split": "fit (the rule's thresholds are fitted on it) or held_out (measured on it).",
        "class": "Kind of edit: a true edit, or a wrong one (noise, unchanged, another room, two changes).",
        "second_condition": "The second changed condition of a two-change edit.",
        "accepted": "The fitted rule accepts the edit.",
        "min_directional": "Rule bound: directional at least this (-inf when unset).",
        "min_clip_image_sim": "Rule bound: clip_image_sim at least this (-inf when unset).",
        "min_ssim": "Rule bound: ssim at least this (-inf when unset).",
        "max_ssim": "Rule bound: ssim at most this (the picture changed at all); inf when unset.",
        "max_off_direction": "Rule bound: off_direction at most this (nothing else changed); inf when unset.",
        "max_local_change": "Rule bound: local_change at most this (nothing appeared beside the asked change); "
        "inf when unset.",
        "max_change_elsewhere": "Rule bound: change_elsewhere at most this (one place changed); inf when unset.",
        "off_direction": "Length of the CLIP image change that the text change does not explain "
        "(sqrt(2 - 2 clip_image_sim) * sin of its angle to the text change): a second, unasked change.",
    },
    "diffusion_edits": {
        "edit": "Edit series (assets/edit_series.yaml).",
        "condition": "The one condition the series changes.",
        "path": "Edited image, relative to the data store root.",
        "source_path": "The original photo, relative to the data store root.",
        "photo_sha256": "SHA-256 of the original photo's bytes.",
        "mode": "img2img, controlnet or instruct-pix2pix.",
        "model": "Diffusion model id or folder.",
        "seed": "Seed of the edit (the series' offset plus the run's seed).",
        "strength": "img2img strength kept from the sweep.",
        "image_guidance": "InstructPix2Pix image guidance (null for the other modes).",
        "width": "Edited width, px (multiple of 8, the photo's aspect ratio).",
        "height": "Edited height, px.",
        "sweep": "Every strength tried, with its scores and the rule's verdict.",
        "preserve_threshold": "Least clip_image_sim a candidate needs to count as the same room.",
        "choice_reason": "Why this strength was kept.",
        "rule": "The series' acceptance rule in words.",
        "clip_model": "CLIP model that scored the edit.",
    },
    "visitor_portrait": {
        "prompt": "Prompt built from assets/persona.md.",
        "negative_prompt": "What the portrait must not show.",
        "path": "The portrait PNG, relative to the data store root.",
    },
}

# (prefix, description template): columns named after a vocabulary word or a grouping.
PATTERNS: list[tuple[str, str]] = [
    ("score_", "Score of the vocabulary word '{rest}' (cosine, or robust z for calibrated)."),
    ("cluster_k_", "k-modes cluster at k = the number of {rest} (hotels, chains or room kinds)."),
]


def column_description(asset: str, column: str) -> str:
    """The column's description ('' when none is written)."""
    found = PER_ASSET.get(asset, {}).get(column) or COMMON.get(column)
    if found:
        return found
    for prefix, template in PATTERNS:
        if column.startswith(prefix):
            return template.format(rest=column[len(prefix):].replace("_", " "))
    return ""
