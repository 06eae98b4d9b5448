from __future__ import annotations

import io

import pytest
from PIL import Image

from trace2skill.report import plots
from trace2skill.report.load import TopicCluster
from tests.report.conftest import HOSTILE
from tests.report.test_diff import S0, skill


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()  # raises on a truncated or corrupt file
    assert image.format == "PNG"
    return image


def cluster(label: str, tier: str, **kinds: int) -> TopicCluster:
    return TopicCluster(cluster_id=hash(label) % 100, label=label, tier=tier, support=sum(kinds.values()), lessons_by_kind=kinds, trajectories=0, example_ids=[])


def test_every_chart_renders_real_data():
    charts = [
        plots.outcome_chart({"analyzed": 20, "no_lesson": 2, "quarantined": 1, "failed": 3}),
        # run text with markup and a "$...$" mathtext would raise on; two topics share a label
        plots.clusters_chart([cluster(HOSTILE, "skill", failure=3, success=2), cluster(r"a $\nosuchmacro$", "skill", success=1), cluster("refunds", "reference", failure=1), cluster("refunds", "dropped", unknown=1)]),
        plots.support_chart([(12, "skill"), (12, "skill"), (3, "reference"), (1, "dropped"), (2, "refused")]),
        plots.merge_chart({"merge_calls": 7, "forced_merges": 1, "final_merge_calls": 2, "fix_calls": 1, "failed_merges": 1}),
        plots.merge_chart({"merge_calls": 7, "merge_calls_per_level": [5, 2], "final_merge_calls": 2}),
        plots.lines_chart(S0, skill("\n# T\n\n## Workflow\n\n1. Look.\n\n## Cost $5\n\n- a\n- b\n"), 500),
    ]
    for png in charts:
        width, height = decode(png).size
        assert width == 600 and height >= 200


@pytest.mark.parametrize(
    "chart",
    [
        lambda: plots.outcome_chart({}),
        lambda: plots.clusters_chart([]),
        lambda: plots.support_chart([]),
        lambda: plots.merge_chart({}),
    ],
    ids=["outcome", "clusters", "support", "merges"],
)
def test_empty_data_still_draws(chart):
    decode(chart())


def test_many_topics_are_capped_and_wide_supports_binned():
    many = [cluster(f"topic {i}", "skill", failure=i + 1) for i in range(plots.MAX_BARS + 15)]
    capped = decode(plots.clusters_chart(many))
    assert capped.size[1] < 100 * (1.2 + 0.32 * plots.MAX_BARS) + 2
    decode(plots.support_chart([(s, "skill") for s in range(1, 5000, 7)]))
