"""StampRate: decimation on whole periods of input stamps."""

import itertools

import pytest

from rover_autonomy.ros_common.stamp_rate import StampRate

MS = 1_000_000


def _passed(rate: StampRate, stamps_ms):
    return [t for t in stamps_ms if rate.due(t * MS)]


def test_first_stamp_of_each_whole_period():
    rate = StampRate.from_rate(50.0)
    assert _passed(rate, range(10, 101, 10)) == [10, 20, 40, 60, 80, 100]


def test_multiples_of_the_period_pass_whatever_the_start():
    # A camera frame at 0.5 s finds an output stamped 0.5 s, also when the input started off the grid.
    passed = _passed(StampRate.from_rate(50.0), range(7, 520, 1))
    assert 500 in passed and 480 in passed
    assert all(b - a == 20 for a, b in itertools.pairwise(passed[1:]))


def test_gap_and_restart():
    rate = StampRate.from_rate(20.0)
    assert _passed(rate, [0, 10, 60, 61, 200]) == [0, 60, 200]
    assert rate.due(30 * MS)  # stamps went back (a replay restarting): output again
    assert not rate.due(40 * MS)
    rate.reset()
    assert rate.due(40 * MS)


def test_zero_rate_passes_everything():
    assert _passed(StampRate.from_rate(0.0), [5, 5, 6]) == [5, 5, 6]


def test_negative_period_refused():
    with pytest.raises(ValueError):
        StampRate(-1)
