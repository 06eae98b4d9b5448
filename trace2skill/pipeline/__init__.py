"""The Ray side of trace2skill: the Ray Data graph of a run and its Serve calls.

This package and ``trace2skill/serve/`` are the only places that import Ray; every
stage they wire is a plain function of the other packages, tested without a cluster.

- ``read``: inputs -> records (Ray Data ``flat_map`` per file) -> Parquet
- ``analyze``: records -> Serve analyst calls from a Ray Data actor pool
- ``consolidate``: lessons -> embeddings, topic clusters, ``groupby`` merges -> final skill
- ``run``: the distill run and the ``ingest`` command wired end to end

``distill``, ``ingest`` and ``ray_session`` are imported from ``run`` when first asked for:
a Ray worker that runs a stage's function imports that stage's module, and importing
``run`` with it (every stage, the report, the evaluation) cost each worker process ~180 MB
(docs/performance.md).
"""

__all__ = ["distill", "ingest", "ray_session"]


def __getattr__(name: str):
    if name in __all__:
        from trace2skill.pipeline import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
