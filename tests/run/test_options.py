"""DistillConfig: the automatic analysis batch size and number of analysis actors."""

from __future__ import annotations

import pytest

from trace2skill.run.options import BLOCKS_PER_ACTOR, MAX_AUTO_BATCH, MIN_AUTO_BATCH, DistillConfig


def _config(**options) -> DistillConfig:
    return DistillConfig.model_validate({"inputs": ["x.jsonl"], "out_dir": "out", **options})


@pytest.mark.parametrize("trajectories", [0, 1, 8, 100, 511, 512, 513, 2_000, 10_000, 1_000_000])
@pytest.mark.parametrize("actors", [1, 2, 16])
def test_every_actor_gets_work_and_blocks_stay_bounded(trajectories, actors):
    size = _config(analyze_concurrency=actors).analysis_batch_size(trajectories)
    assert MIN_AUTO_BATCH <= size <= MAX_AUTO_BATCH
    if size > MIN_AUTO_BATCH:  # grown past the floor only while every actor still gets its blocks
        assert trajectories // size >= actors * BLOCKS_PER_ACTOR


def test_large_runs_get_the_largest_batch_small_runs_the_smallest():
    config = _config(analyze_concurrency=2)
    assert config.analysis_batch_size(8) == MIN_AUTO_BATCH  # the 8-run demo still spreads over both actors
    assert config.analysis_batch_size(100_000) == MAX_AUTO_BATCH


def test_a_given_batch_size_is_kept():
    assert _config(batch_size=1).analysis_batch_size(1_000_000) == 1
    assert _config(batch_size=500).analysis_batch_size(3) == 500


@pytest.mark.parametrize(("trajectories", "batch_size", "actors"), [(0, None, 1), (1, None, 1), (4, None, 1), (5, None, 2), (8, None, 2), (100_000, None, 2), (3, 1, 2), (10, 500, 1)])
def test_no_more_actors_start_than_there_are_batches(trajectories, batch_size, actors):
    assert _config(analyze_concurrency=2, batch_size=batch_size).analysis_actors(trajectories) == actors
