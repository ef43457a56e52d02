"""A config field typed with a Literal offers the same choices as the code that acts on the value."""

from typing import get_args


def test_clip_precision_choices_are_the_loaders():
    from hotelcap_pipeline.defs.resources import Precision
    from hotelcap_pipeline.tagging.clip_model import PRECISIONS

    assert set(get_args(Precision)) == set(PRECISIONS)
