"""Counting and estimating analyst prompt tokens before any LLM call (``plan``, ``--max-prompt-tokens``).

Two steps. :func:`token_counter` picks the cheapest faithful tokenizer for the backend.
:class:`PromptEstimate` runs the analysts' own prompt fitting (``build_messages``) with that
counter on a sample of trajectories to calibrate a per-trajectory estimate that needs no
rendering: the prompt around an empty trajectory, plus tokens per character of the
trajectory's (per-step capped) text, capped at what the fitting leaves a prompt.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from trace2skill.analysts.analyze import (
    MARGIN_TOKENS,
    AnalystSettings,
    build_messages,
    shared_prefix,
)
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.render import render_trajectory
from trace2skill.llm.config import SamplingConfig, for_replica
from trace2skill.run.options import RunOptions
from trace2skill.schema import TRAJECTORY_SCHEMA, Trajectory

TokenCounter = Callable[[str], int]
ESTIMATE = "estimate: 4 characters a token"
STEP_CHARS = 16  # "[i] role: " and the line break around each step
TIKTOKEN_ENCODING = "o200k_base"
TIKTOKEN_URL = f"https://openaipublic.blob.core.windows.net/encodings/{TIKTOKEN_ENCODING}.tiktoken"


def chars_estimate(text: str) -> int:
    return max(1, len(text) // 4)


def token_counter(backend: SamplingConfig) -> tuple[TokenCounter, str]:
    """The token counter a plan uses for ``backend``, and what it is in words.

    fake: its own count; embedded: the GGUF's llama.cpp tokenizer loaded with ``vocab_only``
    (no weights); openai/vllm: tiktoken's ``o200k_base`` when its file is already cached (a
    plan never downloads), an approximation of the served model's tokenizer; otherwise (or
    when loading fails) 4 characters a token."""
    if backend.backend == "fake":
        return chars_estimate, "the fake backend's own count (4 characters a token)"
    if backend.backend == "embedded":
        try:
            from llama_cpp import Llama

            from trace2skill.llm.embedded import default_model_path

            path = backend.model_path or default_model_path()
            # With no weights the model's training context is 0, and llama.cpp says at ERROR level
            # (which verbose=False still prints) that the context exceeds it: not the user's concern.
            with contextlib.redirect_stderr(io.StringIO()):
                llama = Llama(model_path=path, vocab_only=True, verbose=False)
            return (lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False))), f"llama.cpp tokenizer of {Path(path).name} (vocab only)"
        except Exception as exc:  # no model file, no llama.cpp: the estimate still plans
            return chars_estimate, f"{ESTIMATE} (the GGUF tokenizer did not load: {type(exc).__name__})"
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if Path(cache, hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest()).is_file():
        try:
            import tiktoken

            encoding = tiktoken.get_encoding(TIKTOKEN_ENCODING)
            return (lambda text: len(encoding.encode(text, disallowed_special=()))), f"tiktoken {TIKTOKEN_ENCODING} (approximates the served model's tokenizer)"
        except Exception:  # noqa: BLE001 - any failure falls back to the stated estimate
            pass
    return chars_estimate, ESTIMATE


def analyst_config(cfg: RunOptions) -> AnalystSettings:
    """The analyst settings a replica runs with (a vllm engine is reached as openai)."""
    return cfg.analyst.for_backend(for_replica(cfg.backend))


class _Counting:
    """The one part of an LLM client the prompt fitting uses."""

    def __init__(self, count: TokenCounter):
        self.count_tokens = count


def trajectory_chars(table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Characters of each row's task and steps as a prompt shows them (each step whole, as
    when the run fits the context), computed on the Arrow columns without building trajectories."""
    steps = table.column("steps")
    steps = steps.combine_chunks() if isinstance(steps, pa.ChunkedArray) else steps
    flat = pc.list_flatten(steps)
    lengths = [pc.fill_null(pc.utf8_length(pc.struct_field(flat, name)), 0).to_numpy(zero_copy_only=False) for name in ("content", "tool_name", "tool_args")]
    per_step = sum(lengths) + STEP_CHARS
    parents = pc.list_parent_indices(steps).to_numpy(zero_copy_only=False)
    chars = np.bincount(parents, weights=per_step, minlength=table.num_rows)
    task = pc.fill_null(pc.utf8_length(table.column("task")), 0).to_numpy(zero_copy_only=False)
    return (chars + task).astype(np.int64)


def prompt_name(success: bool | None) -> str | None:
    """The analyst that gets a trajectory: none for an unknown outcome (no call)."""
    return None if success is None else ("success_analyst" if success else "error_analyst")


def message_tokens(traj: Trajectory, skill: SkillContext, config: AnalystSettings, count: TokenCounter) -> list[int]:
    """Tokens of each message of ``traj``'s analysis prompt (system first), fitted to the
    context by the analysts' own code; none for a trajectory that gets no call."""
    name = prompt_name(traj.success)
    if name is None:
        return []
    messages, _ = build_messages(name, skill, traj, _Counting(count), config)
    return [count(m.content) for m in messages]


def prefix_tokens(skill: SkillContext, config: AnalystSettings, count: TokenCounter) -> dict[str, int]:
    """Tokens of the prefix every call of each single-call analyst shares in a run
    (:func:`trace2skill.analysts.analyze.shared_prefix`: S0, then the instructions)."""
    return {name: count(shared_prefix(name, skill, _Counting(count), config)) for name in ("error_analyst", "success_analyst")}


def prompt_tokens(traj: Trajectory, skill: SkillContext, config: AnalystSettings, count: TokenCounter) -> int:
    """Prompt tokens of ``traj``'s analysis (0: no call)."""
    return sum(message_tokens(traj, skill, config, count))


class PromptEstimate(BaseModel):
    """Estimated prompt tokens of one analysis from the trajectory's size (see the module docstring)."""

    fixed: dict[str, int]  # analyst prompt -> tokens around an empty trajectory
    tokens_per_char: float
    cap: int  # the most tokens a fitted prompt takes
    tokenizer: str

    @classmethod
    def calibrate(cls, sample: Iterable[Trajectory], skill: SkillContext, config: AnalystSettings, count: TokenCounter, tokenizer: str) -> PromptEstimate:
        """Fit the estimate on ``sample`` with the analysts' prompt fitting and ``count``."""
        roomy = config.model_copy(update={"context_tokens": 10**9})  # nothing elided: the whole text's tokens
        fixed = {
            name: prompt_tokens(Trajectory(id="empty", source_format="plan", success=name == "success_analyst"), skill, roomy, count)
            for name in ("success_analyst", "error_analyst")
        }
        tokens = chars = 0
        for traj in sample:
            name = prompt_name(traj.success)
            if name is not None:
                tokens += prompt_tokens(traj, skill, roomy, count) - fixed[name]
                chars += int(trajectory_chars(pa.Table.from_pylist([traj.to_row()], schema=TRAJECTORY_SCHEMA))[0])
        cap = config.context_tokens - config.max_output_tokens - MARGIN_TOKENS
        return cls(fixed=fixed, tokens_per_char=tokens / chars if chars else 0.25, cap=cap, tokenizer=tokenizer)

    def tokens(self, success: np.ndarray, known: np.ndarray, chars: np.ndarray) -> np.ndarray:
        """Estimated prompt tokens per row; 0 where the outcome is unknown (no call)."""
        fixed = np.where(success, self.fixed["success_analyst"], self.fixed["error_analyst"])
        estimate = np.minimum(fixed + np.ceil(chars * self.tokens_per_char), self.cap).astype(np.int64)
        return np.where(known, estimate, 0)


def full_tokens(traj: Trajectory, count: TokenCounter) -> int:
    """Tokens of the whole trajectory as the analysts render it, before any fitting."""
    return render_trajectory(traj, budget_tokens=10**9, count_tokens=count).tokens
