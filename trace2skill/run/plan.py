"""``trace2skill plan``: what a distill would cost, before any LLM call (docs/plan.md).

The inputs are read once, streaming, record by record (no Ray: a plan is one pass over the
files); a seeded reservoir keeps a bounded sample of trajectories. On the sample the
analysts' own prompt fitting counts what each analysis would send (``trace2skill.run.tokens``).
The rest is arithmetic on stated figures: calls, tokens, the merge trees' fan-in formula
of docs/performance.md and, with a recipe's ``throughput``, replica- and GPU-hours and the
wall time on K replicas.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from trace2skill.analysts.analyze import AnalystSettings
from trace2skill.analysts.context import SkillContext
from trace2skill.ingest import Label, read_file
from trace2skill.ingest.inputs import sort_inputs
from trace2skill.run.budget import stratum
from trace2skill.run.budget_report import BudgetReport
from trace2skill.run.options import RunOptions, ThroughputConfig
from trace2skill.run.outcomes import judge_available, outcome_counts
from trace2skill.run.sample import budget_sample
from trace2skill.run.tokens import PromptEstimate, TokenCounter, analyst_config, full_tokens, message_tokens, prefix_tokens, prompt_name, trajectory_chars
from trace2skill.run.update import UpdateCounts
from trace2skill.schema import OUTCOME_SOURCE, TRAJECTORY_SCHEMA, Trajectory

ROWS_PER_BATCH = 1024  # trajectories whose sizes are summed at once on Arrow columns
LESSONS_PER_TRAJECTORY = 2.0  # units merged per analysed trajectory (docs/performance.md measured 1.84)
MERGE_TOKENS_PER_PATCH = 300  # a patch as a merge prompt shows it (docs/performance.md)


class Scan(BaseModel):
    """What one streaming pass over the inputs found, and the sample it kept."""

    files: int = 0
    trajectories: int = 0
    quarantined: int = 0
    formats: dict[str, int] = Field(default_factory=dict)  # trajectories per format
    outcomes: dict[str, int] = Field(default_factory=dict)  # success / failure / unknown
    outcome_sources: dict[str, int] = Field(default_factory=dict)  # label / grader / signal; "" unknown
    skipped: list[str] = Field(default_factory=list)  # warnings: files neither read as trajectories nor as sidecars
    sample: list[Trajectory] = Field(default_factory=list)
    # per trajectory, only when a budget is previewed: stratum, outcome, characters as a prompt shows them
    strata: list[str] = Field(default_factory=list)
    success: list[bool | None] = Field(default_factory=list)
    chars: list[int] = Field(default_factory=list)


def scan_inputs(
    inputs: Sequence[str | Path],
    *,
    fmt: str = "auto",
    labels: Mapping[str, Label] | None = None,
    success_threshold: float = 1.0,
    sample_size: int = 64,
    seed: int = 0,
    per_trajectory: bool = False,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    each: Callable[[Trajectory], None] | None = None,
) -> Scan:
    """Read every record once; count them and keep a seeded uniform sample (reservoir) of
    ``sample_size`` trajectories (and with ``per_trajectory``, each one's stratum, outcome
    and size, for a budget preview). The plan prints numbers only, so records are not redacted.
    Inputs are sorted as distill sorts them (``ingest.inputs``): sidecars join as labels."""
    scan, formats, outcomes, sources, rng, rows = Scan(), Counter(), Counter(), Counter(), random.Random(seed), []
    found = sort_inputs(inputs, fmt, include=include, exclude=exclude)
    scan.skipped, labels = found.warnings(), found.with_labels(dict(labels) if labels else None)
    for path, name in found.files:
        scan.files += 1
        for record in read_file(path, fmt=name, success_threshold=success_threshold, labels=labels, redact=False):
            if not isinstance(record, Trajectory):
                scan.quarantined += 1
                continue
            scan.trajectories += 1
            if each is not None:  # e.g. the library plan's routing reads every task
                each(record)
            formats[name] += 1
            outcomes[outcome(record.success)] += 1
            sources[record.metadata.get(OUTCOME_SOURCE, "")] += 1
            if per_trajectory:
                rows.append(record.to_row())
                if len(rows) == ROWS_PER_BATCH:
                    _add_rows(scan, rows)
            if len(scan.sample) < sample_size:
                scan.sample.append(record)
            elif (slot := rng.randrange(scan.trajectories)) < sample_size:
                scan.sample[slot] = record
    _add_rows(scan, rows)
    scan.formats, scan.outcomes, scan.outcome_sources = dict(formats), dict(outcomes), dict(sorted(sources.items()))
    return scan


def _add_rows(scan: Scan, rows: list[dict]) -> None:
    """Record the strata, outcomes and sizes of ``rows`` and empty it."""
    if rows:
        scan.chars += trajectory_chars(pa.Table.from_pylist(rows, schema=TRAJECTORY_SCHEMA)).tolist()
        scan.strata += [stratum(r) for r in rows]
        scan.success += [r["success"] for r in rows]
        rows.clear()


def outcome(success: bool | None) -> str:
    return {True: "success", False: "failure"}.get(success, "unknown")


class TokenStats(BaseModel):
    """Mean and percentiles of a sampled token count."""

    mean: int = 0
    p50: int = 0
    p95: int = 0
    max: int = 0

    @classmethod
    def of(cls, values: Sequence[int]) -> TokenStats:
        if not values:
            return cls()
        a = np.asarray(values)
        return cls(mean=round(a.mean()), p50=round(np.percentile(a, 50)), p95=round(np.percentile(a, 95)), max=int(a.max()))


class MergeTree(BaseModel):
    """Merge calls of the consolidation when ``units`` spread evenly over the topic clusters."""

    units: int
    clusters: int
    fan_in: int
    calls: int
    levels: int


def merge_tree(units: int, clusters: int, fan_in: int) -> MergeTree:
    """Units spread evenly over ``min(clusters, units)`` clusters; a cluster of U units takes
    ceil((U - 1) / (B - 1)) merge calls (docs/performance.md) in ceil(log_B U) levels."""
    used = min(clusters, units)
    calls = levels = 0
    if used:
        base, extra = divmod(units, used)
        for size, count in ((base + 1, extra), (base, used - extra)):
            calls += count * math.ceil(max(size - 1, 0) / (fan_in - 1))
        levels = _levels(base + (1 if extra else 0), fan_in)
    return MergeTree(units=units, clusters=used, fan_in=fan_in, calls=calls, levels=levels)


def _levels(size: int, fan_in: int) -> int:
    levels = 0
    while size > 1:
        size, levels = math.ceil(size / fan_in), levels + 1
    return levels


class Cost(BaseModel):
    """Engine time with a recipe's throughput figures, spread perfectly over K replicas."""

    replicas: int
    gpus_per_replica: float
    analysis_seconds_per_call: float
    merge_seconds_per_call: float
    replica_hours: float
    gpu_hours: float
    wall_hours: float


class Plan(BaseModel):
    """Everything ``trace2skill plan`` prints."""

    files: int
    trajectories: int
    quarantined: int
    formats: dict[str, int]
    outcomes: dict[str, int]
    outcome_sources: dict[str, int] = Field(default_factory=dict)  # label / grader / signal; "" unknown (judged in the run, where a judge runs)
    judge: bool = False  # the outcome judge will run on the unknown ones
    sampled: int
    tokenizer: str
    trajectory_tokens: TokenStats  # the whole trajectory as the analysts render it
    prompt_tokens: TokenStats  # what one analysis sends, fitted to the context
    shared_prefix_tokens: int  # per call, mean: its analyst's shared prefix (S0, the instructions), which prefix caches do not recompute
    prefix_tokens: dict[str, int] = Field(default_factory=dict)  # analyst -> tokens of its shared prefix (analysts.analyze.shared_prefix)
    cached_share: float = 0.0  # shared_prefix_tokens / prompt_tokens.mean: the share of prompt tokens a prefix cache does not recompute
    context_tokens: int
    analysis_calls: int
    analysis_prompt_tokens: int
    analysis_completion_tokens: int
    lessons_per_trajectory: float
    merge_fewest: MergeTree  # of units spread over max_clusters topic clusters and all in one: the one with fewer merge calls
    merge_most: MergeTree  # ... and the one with more (the tokens and hours count it)
    merge_prompt_tokens: int
    merge_completion_tokens: int
    cost: Cost | None = None
    budget: BudgetReport | None = None  # what distill --max-prompt-tokens N would analyse
    update: UpdateCounts | None = None  # plan --update: seen, changed, new; the update's analysis calls against a full run's
    notes: list[str] = Field(default_factory=list)

    def with_update(self, counts: UpdateCounts) -> Plan:
        """This plan (of every trajectory: a full run) with what an update would analyse: the
        changed and new trajectories' share of the analysis calls."""
        share = (counts.changed + counts.new) / self.trajectories if self.trajectories else 0.0
        return self.model_copy(update={"update": counts.model_copy(update={"calls": round(self.analysis_calls * share), "full_calls": self.analysis_calls})})

    def sources_line(self) -> str:
        """Where the outcomes come from, and what happens to the unknown ones."""
        line = outcome_counts(Counter(self.outcome_sources))
        if self.outcome_sources.get(""):
            line += "; the outcome judge infers the unknown ones" if self.judge else "; no outcome judge on this backend: the unknown ones yield nothing"
        return line

    def table(self) -> str:
        """The plan as an aligned table for the terminal, then its notes."""
        out = self.outcomes
        rows = [
            ("input files", f"{self.files}"),
            ("trajectories", f"{self.trajectories:,}, and {self.quarantined:,} unreadable record(s) (quarantined)"),
            ("formats", ", ".join(f"{k} {v:,}" for k, v in sorted(self.formats.items())) or "-"),
            ("outcomes", ", ".join(f"{k} {out.get(k, 0):,}" for k in ("success", "failure", "unknown"))),
            ("outcome sources", self.sources_line()),
            ("tokens counted with", f"{self.tokenizer}, on a sample of {self.sampled}"),
            ("tokens per trajectory", _stats(self.trajectory_tokens)),
            ("analyst prompt, fitted", f"{_stats(self.prompt_tokens)} (context {self.context_tokens:,})"),
            ("shared prefix", f"{_prefixes(self.prefix_tokens)}; {self.cached_share:.0%} of prompt tokens a prefix cache does not recompute"),
            ("analysis calls", f"{self.analysis_calls:,}"),
            ("analysis tokens in / out", f"{self.analysis_prompt_tokens:,} / {self.analysis_completion_tokens:,}"),
            ("merge units", f"{self.merge_most.units:,} ({self.lessons_per_trajectory:g} lessons per analysed trajectory)"),
            ("merge calls", f"{_tree(self.merge_fewest)} to {_tree(self.merge_most)}; fan-in {self.merge_most.fan_in}"),
            ("merge tokens in / out", f"{self.merge_prompt_tokens:,} / {self.merge_completion_tokens:,}"),
        ]
        if self.cost is not None:
            c = self.cost
            rows += [
                ("seconds per call", f"analysis {c.analysis_seconds_per_call:.3f}, merge {c.merge_seconds_per_call:.3f} (one replica's share)"),
                ("replica-hours", f"{c.replica_hours:,.3g}"),
                ("GPU-hours", f"{c.gpu_hours:,.3g} ({c.gpus_per_replica:g} GPU(s) per replica)"),
                ("wall time", f"{_duration(c.wall_hours)} on {c.replicas} replica(s)"),
            ]
        else:
            rows.append(("GPU-hours, wall time", "give a recipe with a throughput section (docs/plan.md)"))
        if self.update is not None:
            rows.append(("update", self.update.line()))
        if self.budget is not None:
            rows.append((f"--max-prompt-tokens {self.budget.max_prompt_tokens:,}", self.budget.line()))
        width = max(len(k) for k, _ in rows)
        return "\n".join([*(f"{k:<{width}}  {v}" for k, v in rows), "", *(f"- {n}" for n in self.notes)])


def _stats(s: TokenStats) -> str:
    return f"mean {s.mean:,}, p50 {s.p50:,}, p95 {s.p95:,}, max {s.max:,}"


def _prefixes(tokens: dict[str, int]) -> str:
    said = ", ".join(f"{name.removesuffix('_analyst')} analyst {n:,}" for name, n in tokens.items())
    return f"{said or '-'} tokens (S0, then the instructions)"


def _tree(t: MergeTree) -> str:
    return f"{t.calls:,} ({t.clusters} cluster(s), {t.levels} level(s))"


def _duration(hours: float) -> str:
    if hours >= 1:
        return f"{hours:,.1f} h"
    return f"{hours * 60:.1f} min" if hours >= 1 / 60 else f"{hours * 3600:.1f} s"


def replicas_of(cfg: RunOptions) -> int:
    """The engine replicas a recipe runs: vLLM's max_replicas, else the analyst replicas."""
    if cfg.backend.backend == "vllm":
        return cfg.backend.vllm.max_replicas
    return int((cfg.replicas.autoscaling or {}).get("max_replicas", cfg.replicas.num_replicas))


def gpus_of(cfg: RunOptions, throughput: ThroughputConfig) -> float:
    if throughput.gpus_per_replica is not None:
        return throughput.gpus_per_replica
    if cfg.backend.backend == "vllm":
        return float(cfg.backend.vllm.tensor_parallel_size)
    return cfg.replicas.num_gpus


def make_plan(
    scan: Scan,
    cfg: RunOptions,
    skill: SkillContext,
    count: TokenCounter,
    tokenizer: str,
    *,
    replicas: int | None = None,
    lessons_per_trajectory: float = LESSONS_PER_TRAJECTORY,
) -> Plan:
    """The plan of distilling what ``scan`` found with ``cfg``, tokens counted by ``count``;
    with ``cfg.max_prompt_tokens`` (and a per-trajectory scan), what that budget would analyse."""
    analyst = analyst_config(cfg)
    fitted = [(name, m) for name, m in ((prompt_name(t.success), message_tokens(t, skill, analyst, count)) for t in scan.sample) if m]
    prompts = [sum(m) for _, m in fitted]
    prefixes = prefix_tokens(skill, analyst, count)
    cached = TokenStats.of([prefixes[name] for name, _ in fitted]).mean
    judge = judge_available(cfg.backend.backend, cfg.analyst.judge)
    # With a judge every run gets an analysis call (an upper bound: an unclear verdict stops there) and the unknown ones a judge call more.
    calls = scan.trajectories + scan.outcomes.get("unknown", 0) if judge else scan.trajectories - scan.outcomes.get("unknown", 0)
    stats = TokenStats.of(prompts)
    completion = cfg.throughput.completion_tokens if cfg.throughput else analyst.max_output_tokens
    units = round(calls * lessons_per_trajectory)
    fewest, most = sorted((merge_tree(units, cfg.consolidate.max_clusters, cfg.consolidate.fan_in), merge_tree(units, 1, cfg.consolidate.fan_in)), key=lambda t: (t.calls, -t.clusters))
    merge_prompt = count(skill.skill_md) + cfg.consolidate.fan_in * MERGE_TOKENS_PER_PATCH
    merge_completion = cfg.throughput.merge_completion_tokens if cfg.throughput else analyst.max_output_tokens
    plan = Plan(
        files=scan.files,
        trajectories=scan.trajectories,
        quarantined=scan.quarantined,
        formats=scan.formats,
        outcomes=scan.outcomes,
        outcome_sources=scan.outcome_sources,
        judge=judge,
        sampled=len(scan.sample),
        tokenizer=tokenizer,
        trajectory_tokens=TokenStats.of([full_tokens(t, count) for t in scan.sample]),
        prompt_tokens=stats,
        shared_prefix_tokens=cached,
        prefix_tokens=prefixes,
        cached_share=round(cached / stats.mean, 3) if stats.mean else 0.0,
        context_tokens=analyst.context_tokens,
        analysis_calls=calls,
        analysis_prompt_tokens=calls * stats.mean,
        analysis_completion_tokens=calls * completion,
        lessons_per_trajectory=lessons_per_trajectory,
        merge_fewest=fewest,
        merge_most=most,
        merge_prompt_tokens=most.calls * merge_prompt,
        merge_completion_tokens=most.calls * merge_completion,
        notes=_notes(cfg, analyst, completion),
    )
    if cfg.max_prompt_tokens and scan.chars:
        plan.budget = budget_preview(scan, cfg.max_prompt_tokens, cfg.seed, PromptEstimate.calibrate(scan.sample, skill, analyst, count, tokenizer))
    if cfg.throughput is not None:
        plan.cost = cost(plan, cfg.throughput, replicas or replicas_of(cfg), gpus_of(cfg, cfg.throughput), merge_prompt)
    return plan


def budget_preview(scan: Scan, limit: int, seed: int, estimate: PromptEstimate) -> BudgetReport:
    """The sample ``distill --max-prompt-tokens limit --seed seed`` would draw (trace2skill.run.budget), estimated on the scan."""
    known = np.array([s is not None for s in scan.success])
    costs = estimate.tokens(np.array([bool(s) for s in scan.success]), known, np.array(scan.chars))
    sample = budget_sample(scan.strata, costs, limit, seed)
    return BudgetReport(
        max_prompt_tokens=limit, trajectories=len(costs), selected=sample.selected_count, sampled_out=len(costs) - sample.selected_count,
        strata=sample.strata, seed=seed, tokenizer=estimate.tokenizer, estimated_tokens=sample.estimated_cost, estimated_selected_tokens=sample.selected_cost,
    )


def cost(plan: Plan, tp: ThroughputConfig, replicas: int, gpus_per_replica: float, merge_prompt: int) -> Cost:
    """GPU seconds per call = prefilled tokens / prefill rate + generated tokens / decode rate
    (the shared prefix is not prefilled again with prefix caching); the calls spread over
    ``replicas`` engines. Merges are counted by throughput only: their levels also wait on latency."""
    prefilled = plan.prompt_tokens.mean - (plan.shared_prefix_tokens if tp.prefix_caching else 0)
    per_analysis = prefilled / tp.prefill_tokens_per_s + tp.completion_tokens / tp.decode_tokens_per_s
    per_merge = merge_prompt / tp.prefill_tokens_per_s + tp.merge_completion_tokens / tp.decode_tokens_per_s
    seconds = plan.analysis_calls * per_analysis + plan.merge_most.calls * per_merge
    return Cost(
        replicas=replicas,
        gpus_per_replica=gpus_per_replica,
        analysis_seconds_per_call=round(per_analysis, 4),
        merge_seconds_per_call=round(per_merge, 4),
        replica_hours=seconds / 3600,
        gpu_hours=seconds / 3600 * gpus_per_replica,
        wall_hours=seconds / 3600 / replicas,
    )


def _notes(cfg: RunOptions, analyst: AnalystSettings, completion: int) -> list[str]:
    notes = [
        "analysis calls: one per trajectory with a known outcome; an invalid answer costs a retry (up to "
        f"{analyst.retries}), a failure paired with a successful sibling shows its steps within the same context",
        "merge calls: (U - 1)/(B - 1) per topic cluster of U units (docs/performance.md), with no near-duplicate collapsed; "
        f"units spread evenly over max_clusters ({cfg.consolidate.max_clusters}) or all in one cluster (the tokens and hours count the one with more calls)",
    ]
    if cfg.throughput is None:
        notes.append(f"completion tokens: the output cap ({completion}) per call; give the recipe a throughput section for the expected figure and engine time")
    if analyst.mode == "agentic":
        notes.append(f"agentic error analyst: up to {analyst.max_turns} calls per failure, counted here as one")
    return notes
