"""The decision guide: a table of answer sets, including contradictory ones, through core and the CLI."""

import json

import pytest

from core.decide import QUESTIONS, recommend, validate_answers
from core.errors import TunewizError
from tests.conftest import run_cli

FT_READY = {
    "prompting_tried": "yes", "few_shot_works": "no", "labeled_examples": "500_2000", "task_scope": "narrow",
    "data_changes_often": "no", "need_consistent_format": "yes", "need_cheaper_inference": "yes",
    "domain_terminology": "yes", "need_grounding": "no", "domain_text_tokens": "no",
}

CASES = [
    ("nothing answered: try a prompt first", {}, "better_prompting", []),
    ("just starting", {"prompting_tried": "no", "labeled_examples": "2000_10000"}, "better_prompting", ["prompting_tried"]),
    ("ready to fine-tune", FT_READY, "fine_tuning", ["few_shot_works", "labeled_examples", "need_cheaper_inference"]),
    ("few-shot works", {"prompting_tried": "yes", "few_shot_works": "yes", "labeled_examples": "100_500",
                        "task_scope": "narrow"}, "few_shot", ["few_shot_works"]),
    ("contradiction: few-shot works but cheaper inference wanted, with data",
     {"prompting_tried": "yes", "few_shot_works": "yes", "need_cheaper_inference": "yes",
      "labeled_examples": "500_2000", "task_scope": "narrow"}, "fine_tuning", ["need_cheaper_inference"]),
    ("contradiction: few-shot works but cheaper inference wanted, no data",
     {"prompting_tried": "yes", "few_shot_works": "yes", "need_cheaper_inference": "yes", "labeled_examples": "under_100"},
     "few_shot", ["few_shot_works"]),
    ("grounding in documents", {"prompting_tried": "yes", "need_grounding": "yes", "data_changes_often": "yes",
                                "labeled_examples": "100_500"}, "rag", ["need_grounding", "data_changes_often"]),
    ("data changes often", {**FT_READY, "data_changes_often": "yes", "need_grounding": "yes",
                            "need_cheaper_inference": "no", "need_consistent_format": "no"}, "rag", ["need_grounding"]),
    ("domain text and terminology, few labels",
     {"prompting_tried": "yes", "few_shot_works": "no", "domain_text_tokens": "yes", "domain_terminology": "yes",
      "labeled_examples": "under_100", "task_scope": "narrow"}, "continued_pretraining", ["domain_text_tokens"]),
    ("fewer than 100 examples", {**FT_READY, "labeled_examples": "under_100", "need_cheaper_inference": "no",
                                 "few_shot_works": "not_tried"}, "few_shot", ["labeled_examples"]),
    ("general task", {"prompting_tried": "yes", "few_shot_works": "no", "task_scope": "general",
                      "labeled_examples": "100_500"}, "better_prompting", ["task_scope"]),
]


@pytest.mark.parametrize("name, answers, expected, reason_questions", CASES, ids=[c[0] for c in CASES])
def test_recommendation_table(name, answers, expected, reason_questions):
    result = recommend(answers)
    assert result.recommendation == expected, (name, result.scores)
    tied_to = {r.question for r in result.reasons}
    for qid in reason_questions:
        assert qid in tied_to, f"reason for {qid} missing from {[r.text for r in result.reasons]}"
    for reason in result.reasons:  # every reason names the answer that caused it
        if reason.question:
            assert answers[reason.question] == reason.answer
    assert result.next_step and result.effort and result.data_needed


def test_contradictions_are_explained():
    result = recommend({"few_shot_works": "yes", "need_cheaper_inference": "yes", "prompting_tried": "yes"})
    assert any("cheaper inference" in n for n in result.notes)
    assert not recommend(FT_READY).notes


def test_table_columns_come_from_the_guide():
    ft = recommend(FT_READY)
    assert (ft.title, ft.data_needed, ft.effort, ft.best_for) == ("Fine-tuning", "100-10,000", "High", "Behavior change")
    rag = recommend({"need_grounding": "yes", "prompting_tried": "yes"})
    assert (rag.data_needed, rag.effort, rag.best_for) == ("Documents", "Medium", "Knowledge grounding")


def test_bad_answers_name_field_and_allowed_values():
    with pytest.raises(TunewizError, match="labeled_examples: 'lots' is not an allowed answer; allowed: none, under_100"):
        validate_answers({"labeled_examples": "lots"})
    with pytest.raises(TunewizError, match="colour: unknown question"):
        validate_answers({"colour": "yes"})
    assert validate_answers({"prompting_tried": True}) == {"prompting_tried": "yes"}


@pytest.mark.parametrize("name, answers, expected, _", CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_cli_answers_json_matches_core(tmp_path, name, answers, expected, _):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    proc = run_cli("ask", "--answers", str(path), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["recommendation"] == expected
    assert data["reasons"] == [r.text for r in recommend(answers).reasons]
    assert {"recommendation", "reasons", "next_step", "effort", "data_needed", "notes"} <= set(data)
    assert not (tmp_path / "tunewiz.yaml").exists()  # no side effects without --save


def test_cli_list_questions(tmp_path):
    proc = run_cli("ask", "--list-questions", "--json", cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert [q["id"] for q in data] == [q.id for q in QUESTIONS]
    assert data[2]["answers"] == ["none", "under_100", "100_500", "500_2000", "2000_10000", "over_10000"]


def test_cli_bad_answers_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "prompting_tried": "yes",\n}')
    proc = run_cli("ask", "--answers", str(bad), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{bad}: line 3, column 1: invalid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"task_scope": "medium"}')
    proc = run_cli("ask", "--answers", str(wrong), cwd=tmp_path)
    assert proc.returncode == 2 and "task_scope: 'medium' is not an allowed answer; allowed: narrow, general" in proc.stderr


def test_cli_save_writes_project(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(FT_READY))
    proc = run_cli("ask", "--answers", str(path), "--save", cwd=tmp_path)
    assert proc.returncode == 0 and "Recommendation: Fine-tuning" in proc.stdout
    from core.project import Project

    state = Project(tmp_path).state
    assert state.decide.recommendation == "fine_tuning" and state.is_ticked("prompting_tried")
