"""`newswire process-file` over the seed files, through the real console entry point."""

import json
import subprocess
import sys

from tests.conftest import SEEDS


def _run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "newswire.cli", "process-file", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_seed_files_print_five_clean_records():
    paths = sorted(str(p) for p in SEEDS.glob("*.txt"))
    result = _run(*paths)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 5
    assert {r["language"] for r in records} == {"fr"}
    assert len({r["article_id"] for r in records}) == 5
    assert all(r["schema_version"] == 1 and r["text"] for r in records)


def test_store_makes_dedupe_work_across_runs(tmp_path):
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    seed = sorted(SEEDS.glob("*.txt"))[0]
    copy = tmp_path / "copy.txt"
    copy.write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    assert _run("--store", store, str(seed)).returncode == 0
    second = _run("--store", store, str(copy))
    record = json.loads(second.stdout)
    assert record["kind"] == "content" and record["duplicate_of"]


def test_stdin_and_unreadable_inputs(tmp_path):
    result = _run("-", str(tmp_path / "missing.txt"), "--all",
                  stdin="Un article lu sur l'entrée standard, en français, avec assez de mots pour compter.")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["language"] == "fr"
    assert lines[1]["outcome"] == "error"
    assert result.returncode == 1
