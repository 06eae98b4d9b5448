"""The Ray side of trace2skill: the Ray Data graph of a run and its Serve calls.

This package and ``trace2skill/serve/`` are the only places that import Ray; every
stage they wire is a plain function of the other packages, tested without a cluster.

- ``read``: inputs -> records (Ray Data ``flat_map`` per file) -> Parquet
- ``analyze``: records -> Serve analyst calls from a Ray Data actor pool
- ``consolidate``: lessons -> embeddings, topic clusters, ``groupby`` merges -> final skill
- ``run``: the distill run and the ``ingest`` command wired end to end

``distill``, ``ingest`` and ``ray_session`` are imported from ``run`` when first asked for
(``trace2skill.exports``): a Ray worker that runs a stage's function imports that stage's
module, and must not import the whole run with it.
"""

from trace2skill.exports import lazy_exports

__all__ = ["distill", "ingest", "ray_session"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "trace2skill.pipeline.run"))
