"""The command line's conventions (issue 37): help and version, "did you mean", recipes by name,
errors that come before Ray starts, refusing to overwrite a run, exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib

import pytest

from tests.conftest import EXAMPLES, ROOT
from trace2skill.run.recipes import packaged_recipes

TAU_FILE = EXAMPLES / "airline" / "tau_bench_results.json"


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trace2skill.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def one_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    """The one error line of a failed command (no traceback, nothing else on stderr)."""
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_bare_command_prints_help_and_exits_0():
    result = cli()
    assert result.returncode == 0 and "Usage:" in result.stdout and "distill" in result.stdout


def test_short_help_version_and_completion():
    assert "Usage:" in cli("distill", "-h").stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("trace2skill ")
    assert "--install-completion" in cli("--help").stdout


def test_defaults_read_alike_in_help():
    text = " ".join(cli("distill", "--help").stdout.split())
    assert "(default " not in text  # the config's defaults are written as Typer writes its own
    assert "[default: 1.0]" in text  # --success-threshold, from RunOptions


@pytest.mark.parametrize(
    "args, words",
    [
        (["inspect", str(EXAMPLES), "--format", "tau-bench"], "did you mean 'tau_bench'?"),
        (["plan", str(EXAMPLES / "airline"), "--recipe", "dmeo"], "did you mean 'demo'?"),
    ],
)
def test_did_you_mean(args, words, tmp_path):
    assert words in one_error(cli(*args, cwd=tmp_path))


def test_a_mistyped_recipe_key_is_named_with_the_key_meant(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("consolidate:\n  fanin: 4\n")
    line = one_error(cli("plan", str(EXAMPLES / "airline"), "--recipe", str(recipe)))
    assert "consolidate.fanin: unknown option; did you mean 'fan_in'?" in line


def test_recipes_lists_the_packaged_recipes_and_one_is_used_by_name_anywhere(tmp_path):
    listed = json.loads(cli("recipes", "--json").stdout)
    assert {r["name"] for r in listed} >= {"demo", "local-cpu", "openai"} and all(r["summary"] for r in listed)
    # by name, from a folder that is not a checkout
    result = cli("plan", str(EXAMPLES / "airline"), "--recipe", "demo", "--backend", "fake", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["trajectories"] == 24


def test_recipes_are_package_data():
    recipes = packaged_recipes()
    assert all(path.parent == ROOT / "trace2skill" / "recipes" for path in recipes.values())
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "recipes/*.yaml" in package_data["trace2skill"]
    assert sorted(p.name for p in (ROOT / "pipelines").glob("*.yaml")) == sorted(p.name for p in recipes.values())


def test_backend_settings_fail_before_ray_starts(tmp_path):
    started = time.monotonic()
    line = one_error(cli("distill", str(EXAMPLES / "airline"), "--out", "o", "--backend", "openai", "--model", "m", cwd=tmp_path))
    assert "backend.openai.base_url is required: give --base-url" in line
    assert time.monotonic() - started < 60 and not (tmp_path / "o").exists()  # no run began


@pytest.mark.parametrize("command", ["distill", "plan", "ingest"])
def test_nothing_to_read_stops_before_ray_with_the_fix(command, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = ["--out", str(tmp_path / ("o.parquet" if command == "ingest" else "o"))] if command != "plan" else []
    line = one_error(cli(command, str(empty), *out, "--backend", "fake") if command == "distill" else cli(command, str(empty), *out))
    assert f"no trajectory files in {empty}" in line and "name the files" in line
    line = one_error(cli(command, str(TAU_FILE), *out, "--format", "openai_chat"))
    assert "--format openai_chat reads no trajectory from the 1 input file(s); give --format tau_bench, or auto" in line
    assert not (tmp_path / "o").exists()


def test_plan_with_the_embedded_tokenizer_prints_no_llama_cpp_lines():
    result = cli("plan", str(EXAMPLES / "airline"), "--backend", "embedded")
    assert result.returncode == 0, result.stderr
    assert "llama.cpp tokenizer of" in result.stdout  # the GGUF's vocabulary was loaded and counted with
    assert result.stderr == "" and "llama_" not in result.stdout  # nothing of what llama.cpp prints as it loads


def test_distill_refuses_an_output_that_holds_a_run(tmp_path):
    out = tmp_path / "out"
    (out / "run").mkdir(parents=True)
    (out / "run" / "run.json").write_text("{}")
    line = one_error(cli("distill", str(EXAMPLES / "airline"), "--out", str(out), "--backend", "fake"))
    assert "already holds an earlier run's outputs; give --force" in line and f"--resume {out / 'run'}" in line


def test_resume_takes_the_output_folder(tmp_path):
    from trace2skill.run.checkpoint import run_folder

    out = tmp_path / "out"
    (out / "run").mkdir(parents=True)
    assert run_folder(out) == out  # no run in it: said as it is given
    (out / "run" / "run.json").write_text("{}")
    assert run_folder(out) == out / "run" and run_folder(out / "run") == out / "run"


def test_exit_codes_are_documented():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Exit codes"):]
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"| {code} |" in section


def test_the_readme_usage_names_every_flag_of_every_command():
    from typer.main import get_command

    from trace2skill.cli import app

    readme = (ROOT / "README.md").read_text()
    usage = readme[readme.index("## Usage"):readme.index("## Exit codes")]
    block = usage[usage.index("```"):usage.index("```", usage.index("```") + 3)]
    # each command's usage: its lines, up to the next line that starts another command
    entries = re.split(r"\n(?=trace2skill )", block)
    for name, command in get_command(app).commands.items():
        usage_of = "\n".join(e for e in entries if e.startswith(f"trace2skill {name} "))
        assert usage_of, f"no usage line for {name}"
        flags = [o for p in command.params if p.param_type_name == "option" for o in p.opts if o.startswith("--")]
        missing = [f for f in flags if not re.search(rf"{re.escape(f)}\b(?!-)", usage_of)]
        assert not missing, f"{name}: {missing} in --help, not in the README's usage"


def _help(*command: str) -> str:
    from typer.testing import CliRunner

    from trace2skill.cli import app

    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def _options(help_text: str) -> set[str]:
    """The options a --help lists, short and long (`-h, --help` is two)."""
    found = re.findall(r"^ {2}(-\w(?:, --[\w-]+)?|--[\w-]+)", help_text, re.MULTILINE)
    return {o for opts in found for o in opts.split(", ")}


FLAG = re.compile(r"(?<![\w-])--?[a-zA-Z][\w-]*")


def test_every_command_and_flag_the_readme_names_is_in_help():
    readme = (ROOT / "README.md").read_text()
    root = _help()
    commands = re.findall(r"^ {2}([a-z]+) ", root[root.index("Commands:"):], re.MULTILINE)
    options = {name: _options(_help(name)) for name in commands}
    assert len(commands) >= 9 and all("--json" in opts for opts in options.values())  # --json on every command
    usage = readme[readme.index("## Usage"):readme.index("## Exit codes")]
    block = usage[usage.index("```") + 3:usage.index("```", usage.index("```") + 3)]
    named = []
    for entry in re.split(r"\n(?=trace2skill )", block.strip()):
        name = re.match(r"trace2skill ([a-z]+)?", entry).group(1)
        named.append(name)
        unknown = set(FLAG.findall(entry)) - (options[name] if name else _options(root))
        assert name is None or name in commands, f"README usage names {name!r}, not a command"
        assert not unknown, f"README usage of {name or 'trace2skill'}: {sorted(unknown)} not in its --help"
    assert set(named) >= set(commands), f"commands of --help missing from the README's usage: {set(commands) - set(named)}"
    # inline code anywhere in the README: `trace2skill CMD --flag ...`, `CMD --flag ...` and a bare `--flag`
    everywhere = set().union(_options(root), *options.values())
    for span in re.findall(r"`([^`\n]+)`", readme):
        said = re.match(r"(trace2skill )?([a-z]+)( --|$)", span)
        if said and (said.group(1) or said.group(2) in commands):
            assert said.group(2) in commands, f"README: `{span}` names no command"
            assert not set(FLAG.findall(span)) - options[said.group(2)], f"README: `{span}` has a flag {said.group(2)} --help lacks"
        elif span.startswith("-"):
            assert not set(FLAG.findall(span)) - everywhere, f"README: `{span}` is no command's flag"


@pytest.mark.ray
def test_ctrl_c_prints_the_resume_command_and_the_output_folder_resumes(tmp_path):
    out = tmp_path / "out"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("backend: {backend: fake, latency_s: 0.5}\nconsolidate: {embedder: hashing}\nbatch_size: 1\nredact: {personal_data: false}\n")
    cmd = [sys.executable, "-m", "trace2skill.cli", "distill", str(EXAMPLES / "airline"), "--out", str(out), "--recipe", str(recipe),
           "--limit", "6", "--num-cpus", "2", "--quiet"]
    env = {**os.environ, "RAY_ADDRESS": "local"}  # its own Ray, not the test session's
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not any((out / "run" / "analysis").glob("part-*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "no analysis yet"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert f"trace2skill distill --resume {out / 'run'}" in stderr
    again = subprocess.run([*cmd[:4], "--resume", str(out), "--quiet", "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["read"] == 6
