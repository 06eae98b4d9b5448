"""The validation gate: does a candidate skill make the user's agent better than the baseline?

``trace2skill evaluate`` runs the user's agent runner on every task x arm x trial
(``runner``: the contract; ``plan``: the runs), reads each run's outcome, and decides with
paired statistics (``stats``, ``summary``) whether a candidate is promoted; ``leakage``
warns when a candidate quotes the held-out tasks, ``holdout`` keeps tasks out of a
distill, ``report`` writes the outputs. No Ray here: ``trace2skill.pipeline.evaluate``
runs the plan on Ray.

Import from the modules: this package imports none of them, because ``holdout`` is
imported wherever a run's outputs are written (in Ray workers too) and the statistics
would bring scipy with it (~90 MB a process: docs/performance.md).
"""
