"""Best of N: the run configurations of N candidate skills from one distill command.

The method's authors distil several times with different seeds and keep the best skill by
hand; ``distill --candidates N`` writes the N candidates and ``trace2skill evaluate`` ranks
them on held-out tasks (docs/evaluate.md). Candidates differ by the sampling seed, so their
analysts must sample: a greedy configuration (temperature 0) gets ``CANDIDATE_TEMPERATURE``.
"""

from __future__ import annotations

from trace2skill.run.options import DistillConfig

CANDIDATE_TEMPERATURE = 0.7  # when the recipe samples greedily, where every seed gives the same skill


def candidate_configs(cfg: DistillConfig, n: int) -> list[DistillConfig]:
    """``n`` copies of ``cfg``, candidate ``i`` (1..n) with seed ``cfg.backend.seed + i``, its
    own output folder ``OUT/candidate-i`` and its own run dir (``RUN_DIR/candidate-i`` when
    the run dir was given, else ``OUT/candidate-i/run``)."""
    if n < 1:
        raise ValueError("--candidates must be at least 1")
    temperature = cfg.backend.temperature or CANDIDATE_TEMPERATURE
    out = []
    for i in range(1, n + 1):
        backend = cfg.backend.model_copy(update={"temperature": temperature, "seed": cfg.backend.seed + i})
        run_dir = cfg.run_dir / f"candidate-{i}" if cfg.run_dir else None
        out.append(cfg.model_copy(update={"backend": backend, "out_dir": cfg.out_dir / f"candidate-{i}", "run_dir": run_dir}))
    return out
