"""A scripted agent harness for the evaluate example and tests: its success depends on what the skill says.

``python toy_runner.py SKILL_DIR TASK_FILE OUT_DIR TRIAL``. A task succeeds when it is
``easy``, or when the skill's SKILL.md contains the task's ``rule`` (case-insensitive).
``crash`` exits 3 with a message on stderr, ``sleep`` sleeps that many seconds first,
``silent`` prints nothing; ``report: trajectory`` writes an OpenAI chat JSONL trajectory
with the outcome to OUT_DIR instead of printing it on the last stdout line.
"""

import json
import sys
import time
from pathlib import Path

skill_dir, task_file, out_dir, trial = sys.argv[1:5]
task = json.loads(Path(task_file).read_text())
skill = (Path(skill_dir) / "SKILL.md").read_text().lower()
if task.get("crash"):
    print(f"toy runner: task {task['id']} crashed on purpose", file=sys.stderr)
    sys.exit(3)
time.sleep(task.get("sleep", 0))
if task.get("silent"):
    sys.exit(0)
success = bool(task.get("easy")) or task.get("rule", "\0").lower() in skill
print(f"toy runner: task {task['id']} trial {trial}")
if task.get("report") == "trajectory":
    record = {
        "id": f"{task['id']}-{trial}",
        "success": success,
        "messages": [{"role": "user", "content": task["question"]}, {"role": "assistant", "content": "done"}],
    }
    (Path(out_dir) / "run.jsonl").write_text(json.dumps(record) + "\n")
else:
    print(json.dumps({"success": success, "reward": float(success)}))
