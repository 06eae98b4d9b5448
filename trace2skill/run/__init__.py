"""The run layer: what a distill run is, apart from how Ray executes it.

Options and recipes (``options``, ``recipes``, ``candidates``), the run folder and its
checkpoint (``parts``, ``checkpoint``, ``buckets``), the outputs and the summary
(``outputs``, ``summary``), the token budget, its sample and the plan (``budget``,
``sample``, ``tokens``, ``plan``), the holdout split (``holdout``) and the console
(``progress``). Nothing here imports Ray: ``trace2skill/pipeline/`` executes a run.
"""
