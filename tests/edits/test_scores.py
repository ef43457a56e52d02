from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hotelcap_pipeline.edits.scores import (
    EditRule,
    change_elsewhere,
    choose_strength,
    directional_similarity,
    layout_ssim,
    local_change,
    local_change_mask,
    score_edits,
    ssim,
)


def test_ssim_of_identical_images_is_one():
    a = np.random.default_rng(0).random((32, 40))
    assert ssim(a, a) == pytest.approx(1.0)


def test_ssim_of_flat_images_is_the_luminance_term():
    # Flat images: zero variance, so SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1) everywhere.
    a, b = np.full((16, 16), 0.2), np.full((16, 16), 0.6)
    c1 = 0.01**2
    assert ssim(a, b) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1))


def test_ssim_ranks_noise_below_a_slight_change():
    rng = np.random.default_rng(1)
    a = np.tile(np.linspace(0, 1, 48), (48, 1))
    slight = np.clip(a + rng.normal(0, 0.02, a.shape), 0, 1)
    noise = rng.random(a.shape)
    inverted = 1 - a
    assert 1 > ssim(a, slight) > ssim(a, noise) > ssim(a, inverted)
    assert ssim(a, inverted) < 0  # anti-correlated structure


def test_ssim_needs_matching_2d_arrays():
    with pytest.raises(ValueError, match="one shape"):
        ssim(np.zeros((4, 4)), np.zeros((4, 5)))


def test_layout_ssim_compares_at_the_edits_size():
    photo = Image.fromarray((np.random.default_rng(2).random((60, 90, 3)) * 255).astype(np.uint8))
    same_bigger = photo.resize((180, 120))
    assert layout_ssim(photo, same_bigger) > 0.8
    assert layout_ssim(photo, Image.new("RGB", (90, 60), "grey")) < 0.1


def _room(rng: np.random.Generator) -> np.ndarray:
    """A 256 x 192 'room': flat walls and floor with a few flat furniture blocks, in float RGB 0-255."""
    room = np.empty((192, 256, 3), np.float32)
    room[:120], room[120:] = (200, 180, 150), (120, 90, 60)
    for _ in range(5):
        x, y = rng.integers(0, 200), rng.integers(20, 150)
        room[y : y + 40, x : x + 50] = rng.integers(40, 240, 3)
    return room


def _image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


def test_local_change_is_nil_for_the_same_photo_and_for_a_relighting():
    room = _room(np.random.default_rng(3))
    assert local_change(_image(room), _image(room)) == 0.0
    dim = room * np.array([0.34, 0.36, 0.45], np.float32)  # the lights off: one gain per channel
    assert local_change(_image(room), _image(dim)) == 0.0
    # A relit room whose window (not relit) shows the same sky, its panes split by a 2 px bar that is relit:
    # the bar's pixels, smoothed, are a mix of both lights (neither the old light nor the new one alone
    # explains them, and a 2 px bar smoothed is wider than the opening drops).
    room[30:90, 150:220] = (110, 170, 240)
    dim = room * np.array([0.34, 0.36, 0.45], np.float32)
    window = dim.copy()
    window[30:90, 150:220] = room[30:90, 150:220]
    window[30:90, 184:186] = dim[30:90, 184:186]
    assert local_change(_image(room), _image(window)) == 0.0


def test_local_change_is_the_share_of_the_photo_where_something_appeared():
    room = _room(np.random.default_rng(4))
    dim = room * np.array([0.34, 0.36, 0.45], np.float32)
    swan = dim.copy()
    swan[100:124, 60:92] = (240, 240, 235)  # a pale 32 x 24 object laid in the dim room: 768 of 49,152 px
    assert local_change(_image(room), _image(swan)) == pytest.approx(768 / (256 * 192), rel=0.15)
    # Measured at 256 px whatever the photo's size: the same change on a photo twice as large.
    big = (_image(room).resize((512, 384)), _image(swan).resize((512, 384)))
    assert local_change(*big) == pytest.approx(768 / (256 * 192), rel=0.15)


def test_change_elsewhere_is_what_changed_besides_the_largest_region():
    room = _room(np.random.default_rng(5))
    night = room.copy()
    night[30:90, 150:183] = night[30:90, 187:220] = (20, 25, 60)  # two panes of one window go dark
    assert change_elsewhere(local_change_mask(_image(room), _image(night))) == 0.0  # one place changed
    petals = night.copy()
    for x in range(20, 100, 10):  # petals strewn on a bed far from the window: 8 of 6 x 6 px
        petals[140:146, x : x + 6] = (200, 20, 40)
    mask = local_change_mask(_image(room), _image(petals))
    assert change_elsewhere(mask) == pytest.approx(8 * 36 / (256 * 192), rel=0.2)
    assert change_elsewhere(np.zeros((4, 4), dtype=bool)) == 0.0


def test_directional_similarity_on_hand_made_vectors():
    orig = np.array([1.0, 0.0, 0.0])
    source, target = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])  # text change: -x +y
    edits = np.array([[0.0, 1.0, 0.0], [1.0, -1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    got = directional_similarity(orig, edits, source, target)
    assert got[0] == pytest.approx(1.0)  # moved exactly as the text did
    assert got[1] == pytest.approx(-1 / np.sqrt(2))  # moved partly against it
    assert got[2] == pytest.approx(0.0)  # an unrelated change
    assert got[3] == 0.0  # no change at all: 0, not NaN


def test_score_edits_with_a_stand_in_clip(fake_clip, make_room):
    photo = make_room(0, (64, 48))
    scores = score_edits(fake_clip, photo, [photo, make_room(5, (64, 48))], fake_clip.encode_texts(["a", "b"]))
    assert scores[0]["clip_image_sim"] == pytest.approx(1.0, abs=1e-5)
    assert scores[0]["ssim"] == pytest.approx(1.0) and scores[0]["directional"] == 0.0
    assert scores[1]["clip_image_sim"] < 0.999 and scores[1]["ssim"] < 0.9
    assert scores[0]["local_change"] == 0.0 and scores[1]["local_change"] > 0.05  # another room: much is new
    assert scores[0]["change_elsewhere"] == 0.0


def entry(strength, sim, directional, **flags):
    return {"strength": strength, "clip_image_sim": sim, "directional": directional, "ssim": 0.5, **flags}


def test_choose_strength_without_a_rule_keeps_the_preserving_and_accepts_nothing():
    sweep = [entry(0.3, 0.95, 0.05), entry(0.45, 0.88, 0.20), entry(0.6, 0.70, 0.40)]
    strength, accepted, reason = choose_strength(sweep, None, 0.8)
    assert strength == 0.45  # 0.6 changes most but no longer looks like the room
    assert accepted is None and "2/3" in reason and "no rule for this series" in reason


def test_choose_strength_chooses_only_among_accepted_candidates():
    rule = EditRule(min_directional=0.1, min_clip_image_sim=0.8, min_ssim=0.3)
    sweep = [entry(0.3, 0.95, 0.05), entry(0.45, 0.88, 0.20), entry(0.6, 0.85, 0.15)]
    strength, accepted, reason = choose_strength(sweep, rule, 0.8)
    assert (strength, accepted) == (0.45, True) and "2/3" in reason
    # A negative directional score is never chosen as the best when the rule asks for a positive one.
    backwards = [entry(0.3, 0.95, -0.2), entry(0.45, 0.9, -0.1)]
    strength, accepted, reason = choose_strength(backwards, rule, 0.8)
    assert (strength, accepted) == (0.3, False) and "no strength passed" in reason


def test_the_rule_bounds_local_change_and_an_unmeasured_one_passes_only_an_unset_bound():
    rule = EditRule(min_directional=0.1, min_clip_image_sim=0.8, min_ssim=0.3, max_local_change=0.01)
    assert rule.accepts(entry(0.5, 0.9, 0.3, local_change=0.005))
    assert not rule.accepts(entry(0.5, 0.9, 0.3, local_change=0.02))  # something else appeared
    assert not rule.accepts(entry(0.5, 0.9, 0.3))  # scored before local_change existed: cannot tell
    assert not rule.accepts(entry(0.5, 0.9, 0.3, local_change=None))
    assert EditRule(0.1, 0.8, 0.3).accepts(entry(0.5, 0.9, 0.3))  # no local bound: not needed
    assert "local_change ≤ 0.0100" in rule.describe() and rule.as_columns()["max_local_change"] == 0.01
    elsewhere = EditRule(0.1, 0.8, 0.3, max_change_elsewhere=0.002)
    assert elsewhere.accepts(entry(0.5, 0.9, 0.3, change_elsewhere=0.001))
    assert not elsewhere.accepts(entry(0.5, 0.9, 0.3, change_elsewhere=0.004))
    assert not elsewhere.accepts(entry(0.5, 0.9, 0.3))


def test_choose_strength_falls_back_to_the_lowest():
    sweep = [entry(0.6, 0.5, 0.4), entry(0.3, 0.6, 0.1), entry(0.45, 0.55, 0.3)]
    strength, accepted, reason = choose_strength(sweep, None, 0.8)
    assert strength == 0.3 and accepted is None and "the lowest" in reason


def test_choose_strength_ties_go_to_the_lower_strength_and_flags_are_skipped():
    sweep = [entry(0.6, 0.9, 0.2), entry(0.3, 0.9, 0.2)]
    assert choose_strength(sweep, None, 0.8)[0] == 0.3
    flagged = [entry(0.3, 0.9, 0.1, nan_or_black=True), entry(0.45, 0.9, 0.05), entry(0.6, 0.9, 0.3, nsfw_flag=True)]
    assert choose_strength(flagged, None, 0.8)[0] == 0.45
    all_bad = [entry(0.45, 0.9, 0.1, nan_or_black=True), entry(0.3, 0.9, 0.3, nsfw_flag=True)]
    strength, accepted, reason = choose_strength(all_bad, EditRule(0, 0, 0), 0.8)
    assert strength == 0.3 and accepted is False and "black" in reason
    assert choose_strength(all_bad, None, 0.8)[1] is None  # no rule: nothing judged it, even flagged
    with pytest.raises(ValueError):
        choose_strength([], None, 0.8)
