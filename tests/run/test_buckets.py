import json
import subprocess
import sys
from collections import Counter

from trace2skill.run.buckets import stable_bucket

IDS = [f"u-{i:04x}" for i in range(1000)]


def buckets_in_a_fresh_process(seed: str) -> list[int]:
    code = f"import json; from trace2skill.run.buckets import stable_bucket; print(json.dumps(stable_bucket({IDS!r}, 7).to_pylist()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed, "PATH": ""})
    return json.loads(out.stdout)


def test_the_same_bucket_in_every_process():
    here = stable_bucket(IDS, 7).to_pylist()
    assert here == buckets_in_a_fresh_process("1") == buckets_in_a_fresh_process("2")  # str hash() would differ
    assert set(here) == set(range(7)) and max(Counter(here).values()) < 2 * 1000 / 7  # in range, and spread


def test_a_null_key_has_a_null_bucket():
    assert stable_bucket(["a", None, "a"], 3).to_pylist()[1] is None
    assert stable_bucket(["a", None, "a"], 3).to_pylist()[0] == stable_bucket(["a"], 3).to_pylist()[0]
