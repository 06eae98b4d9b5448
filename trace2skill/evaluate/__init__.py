"""The validation gate: does a candidate skill make the user's agent better than the baseline?

``trace2skill evaluate`` runs the user's agent runner on every task x arm x trial
(``runner``: the contract; ``plan``: the runs), reads each run's outcome, and decides with
paired statistics (``stats``, ``summary``) whether a candidate is promoted; ``leakage``
warns when a candidate quotes the held-out tasks, ``report`` writes the outputs. No Ray
here: ``trace2skill.pipeline.evaluate`` runs the plan on Ray. The held-out split of a
distill is the run layer's (``trace2skill.run.holdout``).
"""
