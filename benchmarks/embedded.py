"""Generated tokens/s of the embedded model through the whole pipeline versus bare llama-cpp-python.

    .venv/bin/python benchmarks/embedded.py                 # 4 trajectories of examples/airline
    .venv/bin/python benchmarks/embedded.py --limit 6 --repeats 2

Both sides run the same GGUF (Gemma 3 270M from PyPI, ``default_model_path``) with the
same llama.cpp settings (``--context-tokens``, ``--threads``, temperature 0, repeat
penalty 1.15, the JSON-schema grammar of the output model), in this one invocation,
alternating:

- **pipeline**: ``distill`` in a fresh process (``pipeline.py``'s child) over the first
  ``--limit`` trajectories of ``examples/airline/tau_bench_results.json``, deepening
  ``examples/skills/airline-support``: Ray Data reads, one embedded ``Analyst`` Serve
  replica answers every analysis and merge. Its rate is the completion tokens of the
  analyses over the ``analyze`` stage's seconds (and, for the whole run, of analyses and
  merges over ``analyze`` + ``merge``);
- **ceiling**: a bare ``llama_cpp.Llama`` in this process, ``create_completion`` on the
  very prompts the analysts send for those trajectories (built with the same
  ``build_messages`` and ``render_prompt``), one after another. Its rate is completion
  tokens over the summed call time.

Both rates include prompt evaluation, as every real call does. Prints a table and writes
``benchmarks/results/embedded.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from pipeline import environment, run_child  # noqa: E402  (benchmarks/ is not a package)
from results import save_result  # noqa: E402

DATA = ROOT / "examples" / "airline" / "tau_bench_results.json"
S0 = ROOT / "examples" / "skills" / "airline-support"


class _Tokens:
    """The token counter ``build_messages`` needs, backed by the bare model's tokenizer."""

    def __init__(self, llama) -> None:
        self.llama = llama

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False))


def ceiling(limit: int, context_tokens: int, threads: int | None) -> dict:
    """Bare llama-cpp-python over the analysts' prompts for the first ``limit`` trajectories."""
    from llama_cpp import Llama

    from trace2skill.analysts.analyze import AnalystConfig, build_messages
    from trace2skill.analysts.context import SkillContext
    from trace2skill.analysts.models import SHORT_LIMITS, ErrorAnalysis, SuccessAnalysis, engine_schema
    from trace2skill.ingest import read_file
    from trace2skill.llm.config import EmbeddedConfig
    from trace2skill.llm.embedded import default_model_path, json_grammar, render_prompt
    from trace2skill.schema import Trajectory
    from trace2skill.skill.folder import load_skill

    llama = Llama(model_path=default_model_path(), n_ctx=context_tokens, n_threads=threads, seed=0, verbose=False)
    config = AnalystConfig().for_backend(EmbeddedConfig(context_tokens=context_tokens))
    view = SkillContext.of(load_skill(S0))
    trajs = [r for r, _ in zip(read_file(DATA), range(limit)) if isinstance(r, Trajectory) and r.success is not None]
    grammars = {m: json_grammar(engine_schema(m, SHORT_LIMITS, view.skill_md)) for m in (ErrorAnalysis, SuccessAnalysis)}  # as the analysts ask
    prompt_tokens = completion_tokens = 0
    seconds = 0.0
    for traj in trajs:
        name, output = ("success_analyst", SuccessAnalysis) if traj.success else ("error_analyst", ErrorAnalysis)
        messages, _ = build_messages(name, view, traj, _Tokens(llama), config)
        t0 = time.perf_counter()
        out = llama.create_completion(
            render_prompt(messages), max_tokens=config.max_output_tokens, temperature=0.0, repeat_penalty=1.15, grammar=grammars[output]
        )
        seconds += time.perf_counter() - t0
        prompt_tokens += out["usage"]["prompt_tokens"]
        completion_tokens += out["usage"]["completion_tokens"]
    return {
        "calls": len(trajs),
        "seconds": seconds,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "completion_tok_per_s": completion_tokens / seconds,
    }


def pipeline(limit: int, context_tokens: int, threads: int | None, workdir: Path) -> dict:
    """``distill`` with the embedded backend in a fresh process; rates from its summary."""
    spec = {
        "corpus": str(DATA),
        "out": str(workdir / "out-embedded"),
        "skill_dir": str(S0),
        "limit": limit,
        "backend": {"backend": "embedded", "context_tokens": context_tokens, "threads": threads},
        "embedder": "hashing",
        "fan_in": 4,
        "num_cpus": 2,
        "analyze_concurrency": 1,
        "batch_size": 4,
    }
    s = run_child(spec, interval=1.0)["summary"]
    st, a, m = s["stage_seconds"], s["analysis_usage"], s["merge_usage"]
    return {
        "stage_seconds": st,
        "analysis_calls": a["calls"],
        "analysis_prompt_tokens": a["prompt_tokens"],
        "analysis_completion_tokens": a["completion_tokens"],
        "merge_calls": m["calls"],
        "merge_completion_tokens": m["completion_tokens"],
        "analyze_tok_per_s": a["completion_tokens"] / st["analyze"],
        "run_tok_per_s": (a["completion_tokens"] + m["completion_tokens"]) / (st["analyze"] + st["merge"]),
        "wall_s": s["wall_seconds"],
    }


def table(res: dict) -> str:
    c, p = res["ceiling"], res["pipeline"]
    return "\n".join(
        [
            "| side | calls | prompt tokens | completion tokens | seconds | generated tok/s (median) | share of ceiling |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| bare llama-cpp-python (ceiling) | {c['calls']} | {c['prompt_tokens']:,} | {c['completion_tokens']:,} | {c['seconds']:.1f} | {res['ceiling_tok_per_s']:.1f} | 100% |",
            f"| pipeline, analyze stage | {p['analysis_calls']} | {p['analysis_prompt_tokens']:,} | {p['analysis_completion_tokens']:,} | {p['stage_seconds']['analyze']:.1f} | {res['pipeline_tok_per_s']:.1f} | {res['share']:.0%} |",
            f"| pipeline, analyze + merge | {p['analysis_calls'] + p['merge_calls']} | | {p['analysis_completion_tokens'] + p['merge_completion_tokens']:,} | "
            f"{p['stage_seconds']['analyze'] + p['stage_seconds']['merge']:.1f} | {res['pipeline_run_tok_per_s']:.1f} | {res['run_share']:.0%} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=4, help="trajectories of examples/airline/tau_bench_results.json")
    parser.add_argument("--context-tokens", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads, both sides (1 leaves a core to Ray on a 2-core machine)")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each side; medians are reported")
    parser.add_argument("--workdir", default="/tmp/t2s-bench")
    parser.add_argument("--out", default=str(HERE / "results" / "embedded.json"))
    args = parser.parse_args()

    env = environment()  # before the runs: the load they started under
    pipe_runs, ceil_runs = [], []
    for i in range(args.repeats):
        pipe_runs.append(pipeline(args.limit, args.context_tokens, args.threads, Path(args.workdir)))
        ceil_runs.append(ceiling(args.limit, args.context_tokens, args.threads))
        print(f"repeat {i + 1}: pipeline {pipe_runs[-1]['analyze_tok_per_s']:.1f} tok/s, ceiling {ceil_runs[-1]['completion_tok_per_s']:.1f} tok/s", flush=True)
    ceil = statistics.median(r["completion_tok_per_s"] for r in ceil_runs)
    pipe = statistics.median(r["analyze_tok_per_s"] for r in pipe_runs)
    run = statistics.median(r["run_tok_per_s"] for r in pipe_runs)
    res = {
        "meta": {"limit": args.limit, "threads": args.threads, "context_tokens": args.context_tokens, **env},
        "ceiling_tok_per_s": ceil,
        "pipeline_tok_per_s": pipe,
        "pipeline_run_tok_per_s": run,
        "share": pipe / ceil,
        "run_share": run / ceil,
        "ceiling": ceil_runs[len(ceil_runs) // 2],
        "pipeline": pipe_runs[len(pipe_runs) // 2],
        "runs": {"pipeline": pipe_runs, "ceiling": ceil_runs},
    }
    print("\n" + table(res))
    save_result(res, args.out)


if __name__ == "__main__":
    main()
