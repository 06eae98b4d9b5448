"""The Ray side of trace2skill: the Ray Data graph of a run and its Serve calls.

This package and ``trace2skill/serve/`` are the only places that import Ray; every
stage they wire is a plain function of the other packages, tested without a cluster.

- ``read``: inputs -> records (Ray Data ``flat_map`` per file) -> Parquet
- ``pair``: failures paired with successful siblings of the same task
- ``analyze``: records -> Serve analyst calls from a Ray Data actor pool
- ``consolidate``: lessons -> embeddings, topic clusters, ``groupby`` merges -> final skill
- ``evaluate``: the evaluation plan's runs as Ray tasks
- ``tuning``: the Ray and allocator tuning of a run's processes, in one place
- ``stages``: a run as a table of stages and the loop that runs them (checkpoint, clock, trims)
- ``run``: the distill run's stages and the ``ingest`` command

The package imports none of its modules: a Ray worker that runs a stage's function
imports that stage's module only (``tests/pipeline/test_worker_imports.py``).
"""
