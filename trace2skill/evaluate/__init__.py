"""The validation gate: does a candidate skill make the user's agent better than the baseline?

``trace2skill evaluate`` runs the user's agent runner on every task x arm x trial
(``runner``: the contract; ``plan``: the runs), reads each run's outcome, and decides with
paired statistics (``stats``, ``summary``) whether a candidate is promoted; ``leakage``
warns when a candidate quotes the held-out tasks, ``holdout`` keeps tasks out of a
distill, ``report`` writes the outputs. No Ray here: ``trace2skill.pipeline.evaluate``
runs the plan on Ray.

Its names are imported from their modules when first asked for (``trace2skill.exports``):
``holdout`` is imported wherever a run's outputs are written, in Ray workers too, and the
statistics would bring scipy with it.
"""

from trace2skill.exports import lazy_exports

__all__ = ["EvaluateConfig", "EvaluationSummary", "RunRow", "RunSpec", "plan_runs", "run_once", "summarize"]
__getattr__ = lazy_exports(
    __name__,
    {
        "EvaluateConfig": "trace2skill.evaluate.plan",
        "plan_runs": "trace2skill.evaluate.plan",
        "RunRow": "trace2skill.evaluate.runner",
        "RunSpec": "trace2skill.evaluate.runner",
        "run_once": "trace2skill.evaluate.runner",
        "EvaluationSummary": "trace2skill.evaluate.summary",
        "summarize": "trace2skill.evaluate.summary",
    },
)
