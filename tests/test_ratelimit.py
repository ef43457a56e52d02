from hotelcap_pipeline.ratelimit import Interval


def test_due_at_most_once_per_interval_and_always_when_final():
    now = [0.0]
    due = Interval(5.0, lambda: now[0])
    assert due.due()  # the first call
    now[0] = 4.9
    assert not due.due()
    assert due.due(final=True)
    now[0] = 9.8
    assert not due.due()  # counted from the final call at 4.9
    now[0] = 10.0
    assert due.due()
    later = Interval(5.0, lambda: now[0], due_at_start=False)  # counted from creation, at 10.0
    assert not later.due()
    now[0] = 15.0
    assert later.due()
