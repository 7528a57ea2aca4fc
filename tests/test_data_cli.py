"""`tunewiz check`, `split` and `clean` as a user runs them: exit codes, JSON shape, project state."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def mixed_quality_file(path, chat_examples):
    """Valid lines, broken JSON (line 3), a missing assistant turn (line 5), a duplicate (line 6), a leaked
    secret (line 7) and an over-long example (line 8)."""
    lines = [json.dumps(e) for e in chat_examples[:2]]
    lines.append('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"]}')
    lines.append(json.dumps(chat_examples[2]))
    lines.append(json.dumps({"messages": [{"role": "user", "content": "Where is my order?"}]}))
    lines.append(json.dumps(chat_examples[0]))
    lines.append(json.dumps({"messages": [{"role": "user", "content": "token ghp_" + "a1" * 20},
                                          {"role": "assistant", "content": "{\"ok\": true}"}]}))
    lines.append(json.dumps({"messages": [{"role": "user", "content": "word " * 3000},
                                          {"role": "assistant", "content": "{}"}]}))
    lines += [json.dumps(e) for e in chat_examples[3:]]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_check_mixed_quality_file_text_report(tmp_path, chat_examples):
    path = mixed_quality_file(tmp_path / "mixed.jsonl", chat_examples)
    proc = run_cli("check", str(path), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    for needle in ("invalid_json", "line 3", "no_assistant_turn", "line 5", "exact duplicate of line 1", "line 6",
                   "github token", "line 7", "too_long", "line 8", "Fix:", "recommended max_seq_length",
                   "Fix the errors before training", "can repeat"):
        assert needle in out, needle
    assert "Traceback" not in proc.stderr


def test_check_json_and_exit_codes(tmp_path, chat_jsonl, chat_examples):
    proc = run_cli("check", str(chat_jsonl), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["examples"] == 64 and data["errors"] == [] and data["format"] == "messages"
    path = mixed_quality_file(tmp_path / "mixed.jsonl", chat_examples)
    data = json.loads(run_cli("check", str(path), "--json", "--max-seq-len", "1024", cwd=tmp_path).stdout)
    assert [(e["line"], e["code"]) for e in data["errors"]] == [(3, "invalid_json"), (5, "no_assistant_turn")]
    assert data["stats"]["tokens"]["max_seq_len"] == 1024
    missing = run_cli("check", str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_check_and_split_record_in_project(project_dir, chat_examples):
    from core.project import Project

    Project(project_dir).save()
    data = project_dir / "data.jsonl"
    data.write_text("\n".join(json.dumps(e) for e in chat_examples) + "\n")
    assert run_cli("check", "data.jsonl", cwd=project_dir).returncode == 0
    state = Project(project_dir).state
    assert state.data["examples"] == 64 and state.data["errors"] == 0 and state.data["verdict"] == "too_few_examples"
    assert state.data["recommended_max_seq_length"] == 256
    assert set(state.data["token_stats"]) == {"p50", "p90", "p99", "max"}
    assert state.is_ticked("data_formatted")
    proc = run_cli("split", "data.jsonl", "--val", "0.25", "--seed", "3", cwd=project_dir)
    assert proc.returncode == 0, proc.stderr
    state = Project(project_dir).state
    assert state.data["train_examples"] == 48 and state.data["val_examples"] == 16
    assert (project_dir / "train.jsonl").exists() and state.data["val_file"].endswith("val.jsonl")
    assert state.is_ticked("split_created")


def test_clean_cli_previews_before_writing(tmp_path, chat_examples):
    path = mixed_quality_file(tmp_path / "mixed.jsonl", chat_examples)
    proc = run_cli("clean", str(path), "--drop-invalid", "--drop-duplicates", cwd=tmp_path)
    assert proc.returncode == 0 and "duplicates dropped: 1" in proc.stdout and "--yes" in proc.stderr
    assert not (tmp_path / "mixed.clean.jsonl").exists()
    proc = run_cli("clean", str(path), "--all", "--yes", cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "mixed.clean.jsonl").exists()
    assert run_cli("check", str(tmp_path / "mixed.clean.jsonl"), cwd=tmp_path).returncode == 0
