"""Configuration of one distill run (what the CLI flags and, later, recipes fill in)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.analysts.verify import VerifierConfig
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.llm.config import EmbeddedConfig, EngineConfig
from trace2skill.serve.config import ReplicaConfig

NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# The automatic analysis batch: large enough that Ray Data's per-block work and the part files
# it writes stay small per trajectory (blocks of 4 cost ~40 ms of CPU a trajectory, blocks of
# 64 ~27: docs/performance.md), small enough that every actor gets work and a resumption
# redoes little.
MIN_AUTO_BATCH, MAX_AUTO_BATCH, BLOCKS_PER_ACTOR = 4, 64, 4
# Options that moved to another section: (where they were, where they are).
MOVED = (
    ("analyst.context_tokens", "backend.context_tokens (the engine's context window)"),
    ("fan_in", "consolidate.fan_in"),
    ("verifier.unverified", "analyst.checker.failed (one policy for a fix that failed its check, by the check tool or the verifier)"),
)


class ThroughputConfig(BaseModel):
    """How fast one engine replica is, for ``trace2skill plan`` (docs/plan.md). Measure it
    (e.g. ``vllm bench throughput``) for the model and hardware of the run."""

    model_config = ConfigDict(extra="forbid")

    prefill_tokens_per_s: float = Field(gt=0, description="Prompt tokens one replica processes per second, all sequences of its batch together.")
    decode_tokens_per_s: float = Field(gt=0, description="Tokens one replica generates per second, all sequences of its batch together.")
    gpus_per_replica: float | None = Field(
        None, ge=0, description="GPUs one engine replica holds (default: vllm tensor_parallel_size, else replicas.num_gpus)."
    )
    prefix_caching: bool = Field(False, description="The engine reuses the shared prompt prefix (S0 and the instructions): only the rest is prefilled.")
    completion_tokens: int = Field(700, ge=1, description="Tokens generated per analysis (docs/performance.md: up to 3 lessons and a patch).")
    merge_completion_tokens: int = Field(900, ge=1, description="Tokens generated per merge call.")


class RedactConfig(BaseModel):
    """What ingest redacts besides secrets (which it always redacts)."""

    model_config = ConfigDict(extra="forbid")

    personal_data: bool = Field(
        True, description="Replace names, e-mails, phones, cards, IBANs, IPs, addresses and birth dates with typed placeholders; "
        "off only for synthetic benchmark data (the report says so)."
    )


class LibraryConfig(BaseModel):
    """Library mode (``distill --library``): one skill per group of the pool (docs/library.md)."""

    model_config = ConfigDict(extra="forbid")

    skills_dir: Path | None = Field(None, description="A folder of existing skills (one sub-folder each): a group whose tasks a skill's description fits deepens it.")
    group_by: str | None = Field(None, description="Route by this field ('format', or a metadata key) instead of clustering the task descriptions.")
    min_group_size: int = Field(3, ge=1, description="Smaller groups join the nearest group, or stay unrouted with the reason.")
    max_groups: int = Field(12, ge=1, description="At most this many skills from clustering.")
    match_threshold: float | None = Field(None, gt=0, le=1, description="Cosine a skill's description needs with a group's tasks to take it (default: the embedder's).")
    draft_new: bool = Field(True, description="A new skill's S0 is drafted from its group's tasks (create mode with --draft).")
    parallel_skills: int = Field(2, ge=1, description="Skills analysed and consolidated at the same time.")


class RunOptions(BaseModel):
    """The settings a recipe may hold: everything but the inputs and the output folder."""

    model_config = ConfigDict(extra="forbid")

    skill_dir: Path | None = Field(None, description="Starting skill S0 (deepen mode).")
    mode: Literal["deepen", "create"] | None = Field(None, description="deepen (needs skill_dir) or create; default from skill_dir.")
    name: str | None = Field(None, description="Skill name (kebab-case); default: S0's name, else 'distilled-skill'.")
    draft: bool = Field(False, description="Create mode: let the model draft S0 from the task descriptions first.")
    run_dir: Path | None = Field(None, description="Where Parquet outputs go; default: OUT_DIR/run.")
    limit: int | None = Field(None, ge=1, description="Read only the first N input records, in file order.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray instance (default: all).")
    success_threshold: float = Field(1.0, description="reward >= threshold counts as success.")
    labels: Path | None = Field(None, description="Labels file joining outcomes onto trajectories (docs/formats.md).")
    input_format: str = Field("auto", description="Input format name, or auto-detect per file.")
    include: tuple[str, ...] = Field((), description="Read only input files matching one of these globs (path or name).")
    exclude: tuple[str, ...] = Field((), description="Skip input files matching one of these globs (path or name).")
    analyze_concurrency: int = Field(2, ge=1, description="Ray Data actors sending trajectories to the analysts.")
    batch_size: int | None = Field(
        None,
        ge=1,
        description="Trajectories per Ray Data batch (analyses in flight per actor, and one analysis part file). "
        f"Default: every actor gets at least {BLOCKS_PER_ACTOR} batches, {MIN_AUTO_BATCH} to {MAX_AUTO_BATCH} trajectories each.",
    )
    rows_per_request: int | None = Field(
        None, ge=1, description="Trajectories per Serve request (default: the whole batch); Serve's autoscaler counts requests, not analyses."
    )
    backend: EngineConfig = Field(
        default_factory=EmbeddedConfig, description="embedded (llama.cpp, CPU), openai (HTTP endpoint), vllm (Ray Serve LLM on GPUs) or fake (tests)."
    )
    analyst: AnalystConfig = Field(default_factory=AnalystConfig)
    replicas: ReplicaConfig = Field(default_factory=ReplicaConfig)
    analyst_app: str | None = Field(
        None, description="Name of a running analyst Serve application (e.g. a RayService's) to use instead of deploying one."
    )
    consolidate: ConsolidateConfig = Field(default_factory=ConsolidateConfig)
    redact: RedactConfig = Field(default_factory=RedactConfig)
    verifier: VerifierConfig = Field(default_factory=VerifierConfig)
    # Held-out tasks for ``trace2skill evaluate`` (trace2skill/run/holdout.py).
    holdout: float | None = Field(None, gt=0, lt=1, description="Fraction of the tasks kept out of the distill, for evaluate (written to RUN_DIR/holdout_tasks.jsonl).")
    holdout_ids: Path | None = Field(None, description="File of task ids (one a line, or a tasks JSONL) kept out of the distill.")
    seed: int = Field(0, description="Seed of the holdout split and of the --max-prompt-tokens sample.")
    max_prompt_tokens: int | None = Field(
        None, ge=1, description="Analysis prompt-token budget: a sample stratified by task x outcome that fits it is analysed, the rest skipped (docs/plan.md)."
    )
    throughput: ThroughputConfig | None = Field(None, description="Engine speed for `trace2skill plan` (GPU-hours, wall time); distill ignores it.")
    library: LibraryConfig | None = Field(None, description="Library mode: route the pool to several skills (docs/library.md).")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        """Name the new home of an option that moved, instead of pydantic's "extra inputs"."""
        if isinstance(data, dict):
            for old, new in MOVED:
                section, _, key = old.rpartition(".")
                holder = data.get(section) if section else data
                if isinstance(holder, dict) and key in holder:
                    raise PydanticCustomError("moved", "{old} moved: set {new} instead", {"old": old, "new": new})
        return data

    @model_validator(mode="after")
    def _one_holdout(self) -> RunOptions:
        if self.holdout is not None and self.holdout_ids is not None:
            raise ValueError("give --holdout FRACTION or --holdout-ids FILE, not both")
        return self

    @field_validator("name")
    @classmethod
    def _kebab(cls, value: str | None) -> str | None:
        if value is not None and (not NAME_RE.match(value) or len(value) > 64):
            raise ValueError(f"skill name {value!r} must be kebab-case (a-z, 0-9, '-'), at most 64 characters")
        return value


class DistillConfig(RunOptions):
    """Everything a distill run needs: the run options plus inputs and the output folder."""

    inputs: list[Path] = Field(description="Trajectory files or directories.")
    out_dir: Path = Field(description="The skill is written to OUT_DIR/<name>/.")
    update: Path | None = Field(None, description="The run folder of the finished distill this run updates (run.update): its skill is S0, what it analysed is `seen`.")

    @property
    def resolved_mode(self) -> str:
        return self.mode or ("deepen" if self.skill_dir else "create")

    def analysis_batch_size(self, trajectories: int) -> int:
        """``batch_size``, or the automatic one for ``trajectories`` to analyse."""
        if self.batch_size is not None:
            return self.batch_size
        return max(MIN_AUTO_BATCH, min(MAX_AUTO_BATCH, trajectories // (self.analyze_concurrency * BLOCKS_PER_ACTOR)))

    def analysis_actors(self, trajectories: int) -> int:
        """The analysis actors for ``trajectories`` to analyse: ``analyze_concurrency``, but no
        more than there are batches (an actor with no batch would only take a CPU to start)."""
        return max(1, min(self.analyze_concurrency, -(-trajectories // self.analysis_batch_size(trajectories))))

    @property
    def resolved_run_dir(self) -> Path:
        return self.run_dir or self.out_dir / "run"
