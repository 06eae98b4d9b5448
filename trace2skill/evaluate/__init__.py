"""The validation gate: does a candidate skill make the user's agent better than the baseline?

``trace2skill evaluate`` runs the user's agent runner on every task x arm x trial
(``runner``: the contract; ``plan``: the runs), reads each run's outcome, and decides with
paired statistics (``stats``, ``summary``) whether a candidate is promoted; ``leakage``
warns when a candidate quotes the held-out tasks, ``holdout`` keeps tasks out of a
distill, ``report`` writes the outputs. No Ray here: ``trace2skill.pipeline.evaluate``
runs the plan on Ray.
"""

from trace2skill.evaluate.plan import EvaluateConfig, plan_runs
from trace2skill.evaluate.runner import RunRow, RunSpec, run_once
from trace2skill.evaluate.summary import EvaluationSummary, summarize

__all__ = ["EvaluateConfig", "EvaluationSummary", "RunRow", "RunSpec", "plan_runs", "run_once", "summarize"]
