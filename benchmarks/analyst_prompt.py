"""What the error analyst is shown for one real tau-bench failure, part by part, in tokens.

    .venv/bin/python benchmarks/analyst_prompt.py            # item 5 of examples/airline/tau_bench_results.json
    .venv/bin/python benchmarks/analyst_prompt.py --print    # also print the whole prompt

Builds the error analyst's messages for the failed run with S0 = the bundled
``airline-support`` skill, once with the embedded backend's settings (8,192-token
context, short limits) and once with the openai recipe's (32,768, long limits), and
counts the tokens of each part with the embedded model's tokenizer (the GGUF's
vocabulary only: nothing is generated). Writes ``benchmarks/results/analyst_prompt.json``;
``docs/analysts.md`` quotes it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import save_result  # noqa: E402 (benchmarks/ on the path above)

DATA = ROOT / "examples" / "airline" / "tau_bench_results.json"
S0 = ROOT / "examples" / "skills" / "airline-support"
BLOCKS = ("skill", "references", "agent_instructions", "trajectory", "grader")


class VocabTokens:
    """Counts tokens with the embedded model's tokenizer, loading its vocabulary only."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        from trace2skill.llm.embedded import default_model_path

        self.llama = Llama(model_path=default_model_path(), vocab_only=True, verbose=False)

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False))


def parts(messages: list, count) -> dict[str, int]:
    """Tokens of each delimited block of the prompt, and of the instructions around them."""
    text = "\n".join(m.content for m in messages)
    out, rest = {}, text
    for tag in BLOCKS:
        match = re.search(rf"^<{tag}[^>]*>\n.*?^</{tag}>", rest, re.DOTALL | re.MULTILINE)
        out[tag] = count(match.group(0)) if match else 0
        if match:
            rest = rest.replace(match.group(0), "")
    out["instructions"] = count(rest)
    out["total"] = count(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--item", default="5", help="task id of the failed run in the bundled results")
    parser.add_argument("--print", action="store_true", help="print the embedded backend's prompt")
    parser.add_argument("--out", default=str(HERE / "results" / "analyst_prompt.json"))
    args = parser.parse_args()

    from trace2skill.analysts.analyze import AnalystConfig, build_messages
    from trace2skill.analysts.context import SkillContext
    from trace2skill.llm.config import EmbeddedConfig, OpenAIConfig
    from trace2skill.ingest import read_file
    from trace2skill.schema import Trajectory
    from trace2skill.skill.folder import load_skill

    traj = next(t for t in read_file(DATA) if isinstance(t, Trajectory) and t.raw_id.split(":")[0] == args.item)
    assert traj.success is False, "pick a failed run"
    skill = SkillContext.of(load_skill(S0))
    tokens = VocabTokens()
    result = {"trajectory": traj.raw_id, "grader": traj.grader.model_dump() if traj.grader else None, "backends": {}}
    for backend, engine, config in (
        ("embedded", EmbeddedConfig(context_tokens=8192), AnalystConfig(max_output_tokens=1024)),
        ("openai", OpenAIConfig(base_url="http://unused/v1", model="m", context_tokens=32768), AnalystConfig(max_output_tokens=4096)),
    ):
        messages, fit = build_messages("error_analyst", skill, traj, tokens, config.for_backend(engine))
        result["backends"][backend] = {"tokens": parts(messages, tokens.count_tokens), "fit": fit}
        if args.print and backend == "embedded":
            print("\n\n".join(f"=== {m.role}\n{m.content}" for m in messages))
    for backend, row in result["backends"].items():
        print(backend, row["tokens"])
    save_result(result, args.out)


if __name__ == "__main__":
    main()
