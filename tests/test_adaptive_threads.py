"""AdaptiveThreads: each count tried, the fastest kept, the others re-timed now and then, a change of load
followed; torch's setting restored after each call."""

from __future__ import annotations

import pytest
import torch

from fastrl.adaptive_threads import AdaptiveThreads


def run(chooser: AdaptiveThreads, seconds_of: dict[int, float], calls: int) -> list[int]:
    """The counts ``calls`` calls ran on, each taking ``seconds_of[count]``."""
    counts = []
    for _ in range(calls):
        count = chooser.next_count()
        chooser.note(count, seconds_of[count])
        counts.append(count)
    return counts


def test_each_count_runs_first_then_the_fastest_with_a_look_at_the_other_every_few_calls():
    chooser = AdaptiveThreads((2, 1), explore_every=4)
    counts = run(chooser, {2: 1.0, 1: 1.6}, 18)
    assert counts[:2] == [2, 1]
    assert [i for i, c in enumerate(counts) if c == 1] == [1, 3, 7, 11, 15]  # then at calls % 4 == 3
    assert chooser.best == 2


def test_a_core_taken_mid_run_moves_the_work_to_one_thread_and_back_when_it_is_freed():
    chooser = AdaptiveThreads((2, 1), explore_every=4, smoothing=0.5)
    run(chooser, {2: 1.0, 1: 1.6}, 20)
    busy = run(chooser, {2: 5.0, 1: 1.7}, 20)  # another process spins on a core: two threads wait at barriers
    assert chooser.best == 1 and busy[-8:].count(1) >= 6
    idle = run(chooser, {2: 1.0, 1: 1.6}, 30)
    assert chooser.best == 2 and idle[-8:].count(2) >= 6


def test_the_block_runs_on_the_chosen_count_and_torchs_setting_comes_back():
    before = torch.get_num_threads()
    chooser = AdaptiveThreads((1, before + 1))
    for _ in range(3):
        with chooser() as count:
            assert torch.get_num_threads() == count
        assert torch.get_num_threads() == before
    assert set(chooser.seconds) == {1, before + 1} and chooser.calls == 3


@pytest.mark.parametrize("kwargs", [{"candidates": ()}, {"candidates": (0, 2)}, {"candidates": (1,), "explore_every": 1},
                                    {"candidates": (1,), "smoothing": 0.0}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        AdaptiveThreads(**kwargs)
