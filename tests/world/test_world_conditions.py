"""One-condition re-renders change only that condition's region."""

import numpy as np
import pytest
from helpers_world import changed, find_room

from hotelcap_pipeline import world


@pytest.mark.parametrize("size", [(160, 120), (120, 160)])
@pytest.mark.parametrize("condition", world.CONDITIONS)
def test_switching_one_condition_changes_only_its_region(bedroom, condition, size):
    on = bedroom.with_condition(condition)
    assert on.conditions == {condition} and world.truth(on).conditions == (condition,)
    diff = changed(bedroom, on, size)
    region = world.condition_region(bedroom, size, condition)
    assert diff.sum() > 20, "the condition must show"
    assert not (diff & ~region).any(), f"{condition} changed {int((diff & ~region).sum())} pixels outside its region"
    assert np.array_equal(world.render(on.with_condition(condition, on=False), size), world.render(bedroom, size))


def test_the_regions_are_where_they_should_be(bedroom):
    size = (160, 120)
    view = world.view_mask(bedroom, size)
    x0, y0, x1, _ = world.object_boxes(bedroom, size)["window"]
    assert view.any() and not view[:, :x0].any() and not view[:, x1:].any() and not view[:y0].any()
    lights = world.condition_region(bedroom, size, "lights_off")
    inner_view = view & ~lights
    assert inner_view.sum() > 0.3 * view.sum(), "lights_off leaves the view through the window alone"
    diff = changed(bedroom, bedroom.with_condition("lights_off"), size)
    assert not diff[inner_view].any() and diff[~view].mean() > 0.8
    bx0, by0, bx1, by1 = world.object_boxes(bedroom, size)["bed"]
    for condition in ("rose_petals", "towel_swan"):
        diff = changed(bedroom, bedroom.with_condition(condition), size)
        ys, xs = np.nonzero(diff)
        m = world.blur_margin(size)
        assert xs.min() >= bx0 - m and xs.max() < bx1 + m and ys.min() >= by0 - m and ys.max() < by1 + m


def test_conditions_compose(bedroom):
    both = bedroom.with_condition("night").with_condition("lights_off")
    diff = changed(bedroom.with_condition("lights_off"), both)
    assert diff.any() and not (diff & ~world.condition_region(bedroom, (160, 120), "night")).any()


def test_a_condition_that_would_not_show_is_refused():
    bathroom = find_room({"sink"}, kind="bathroom", without=frozenset({"window", "bed"}))
    assert bathroom.applicable_conditions() == ("lights_off",)
    with pytest.raises(ValueError, match="needs a window"):
        bathroom.with_condition("night")
    with pytest.raises(ValueError, match="needs a bed"):
        bathroom.with_condition("rose_petals")
    with pytest.raises(ValueError, match="unknown condition"):
        bathroom.with_condition("fog")
    assert bathroom.with_condition("lights_off").conditions == {"lights_off"}
