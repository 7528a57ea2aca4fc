"""Evaluating hosted runs through the provider's chat API, against the local fake server with the real
`openai` and `together` SDK clients: `tunewiz eval RUN --json`, retry on 429/5xx/dropped connections,
the key nowhere in the run folder, clear errors, and the Evaluate step without loss numbers."""

from __future__ import annotations

import json

import pytest

from core.evaluate.hosted import tuned_model_id
from core.evaluate.runner import LOSS_UNAVAILABLE_SHORT, choose_prompts, evaluate_run, read_eval, summary_lines
from core.hosted import start_hosted_run
from core.hosted.api import Backoff
from core.hosted.fake import FakeProviderServer
from core.project import Project
from core.toy import make_chat_examples, write_jsonl
from tests.conftest import run_cli

KEY = "sk-hosted-eval-KEY-0123456789abcdef"
PROVIDERS = ["openai", "together"]
FAST = Backoff(base=0.01, maximum=0.05, attempts=None)


@pytest.fixture
def fake():
    with FakeProviderServer(api_key=KEY) as server:
        yield server


def finished_hosted_run(fake, provider, root):
    """A hosted run that trained on 30 conversations (12 held out) and finished with a model id."""
    examples = make_chat_examples(42, seed=3)
    train = write_jsonl(root / "data" / "train.jsonl", examples[:30])
    val = write_jsonl(root / "data" / "val.jsonl", examples[30:])
    run = start_hosted_run(provider, train, val_file=val, runs_dir=root / "runs", base_url=fake.base_url(provider),
                           detach=False, api_key=KEY, poll_interval=0.02, backoff=FAST, tokenizer="approx",
                           hyperparameters={"suffix": "evaltest"})
    assert run.view().status == "finished"
    return run


def assert_key_nowhere(run):
    for path in run.path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"API key found in {path}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cli_eval_json_on_a_finished_hosted_run(fake, provider, tmp_path):
    run = finished_hosted_run(fake, provider, tmp_path)
    proc = run_cli("eval", run.run_id, "--runs-dir", str(tmp_path / "runs"), "--n", "6", "--json",
                   env={f"{provider.upper()}_API_KEY": KEY}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == read_eval(run)
    tuned = tuned_model_id(run)
    assert "evaltest" in tuned
    assert result["backend"] == provider and result["adapter"] is None
    assert result["hosted"]["tuned_model"] == tuned and result["base_model"] == result["hosted"]["trained_from"]
    assert result["loss"]["base"] is None and result["loss"]["tuned"] is None
    assert result["loss"]["reason"].startswith(LOSS_UNAVAILABLE_SHORT)
    # the same seeded prompts a local evaluation of this split would pick
    from core.evaluate.loading import read_chat_jsonl

    expected = choose_prompts(read_chat_jsonl(tmp_path / "data" / "val.jsonl"), 6, result["seed"])
    assert [s["index"] for s in result["samples"]] == [i for i, _, _ in expected]
    assert result["n"] == 6 and len(result["samples"]) == 6
    # both models were really asked, each once per prompt, through the provider's chat endpoint
    asked = [body["model"] for body in fake.chats]
    assert asked.count(tuned) == 6 and asked.count(result["base_model"]) == 6
    # the fine-tuned model gives the reference-like JSON, the base model prose: tuned beats base
    mb, mt = result["metrics"]["base"], result["metrics"]["tuned"]
    assert mt["field_match"] == 1.0 and mt["json_valid"] == 1.0 and mb["json_valid"] == 0.0
    assert mt["exact_match"] > mb["exact_match"]
    assert all(s["scores"]["tuned"]["exact_match"] == 1.0 for s in result["samples"])
    assert result["hosted"]["usage"]["tuned"]["completion_tokens"] > 0
    assert_key_nowhere(run)


def test_cli_eval_summary_says_loss_is_not_available(fake, tmp_path):
    run = finished_hosted_run(fake, "openai", tmp_path)
    proc = run_cli("eval", run.run_id, "--runs-dir", str(tmp_path / "runs"), "--n", "3",
                   env={"OPENAI_API_KEY": KEY}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"val loss        {LOSS_UNAVAILABLE_SHORT}" in proc.stdout
    assert "JSON fields     base   0.0%   tuned 100.0%" in proc.stdout
    assert "via the openai chat API" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_5xx_and_dropped_connection_then_success(fake, provider, tmp_path):
    run = finished_hosted_run(fake, provider, tmp_path)
    fake.inject("POST", r"/chat/completions$", 429, 429, 503, "drop")
    retries = []
    result = evaluate_run(run, n=4, api_key=KEY, backoff=FAST, concurrency=1, on_retry=retries.append)
    assert result["hosted"]["retries"] == 4 and len(retries) == 4
    assert any("HTTP 429" in r for r in retries) and any("connection" in r for r in retries)
    assert fake.count("POST", r"/chat/completions$") == 2 * 4 + 4
    assert result["metrics"]["tuned"]["exact_match"] == 1.0 and result["metrics"]["base"]["exact_match"] == 0.0
    assert_key_nowhere(run)


def test_retries_give_up_with_one_clear_error(fake, tmp_path):
    run = finished_hosted_run(fake, "openai", tmp_path)
    fake.inject("POST", r"/chat/completions$", *([429] * 10))
    from core.errors import TunewizError

    with pytest.raises(TunewizError) as err:
        evaluate_run(run, n=2, api_key=KEY, backoff=Backoff(base=0.001, maximum=0.001, attempts=3), concurrency=1)
    assert "could not answer" in err.value.message and "HTTP 429" in err.value.message
    assert err.value.hint and "rate limit" in err.value.hint
    assert read_eval(run) is None


def test_unknown_base_model_hint_and_base_model_override(fake, tmp_path):
    run = finished_hosted_run(fake, "together", tmp_path)
    env = {"TOGETHER_API_KEY": KEY}
    runs = str(tmp_path / "runs")
    proc = run_cli("eval", run.run_id, "--runs-dir", runs, "--n", "2", "--base-model", "no/such-model", env=env)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "base model 'no/such-model' could not answer" in proc.stderr and "--base-model" in proc.stderr
    assert KEY not in proc.stderr
    fake.chat_models.add("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo")
    proc = run_cli("eval", run.run_id, "--runs-dir", runs, "--n", "2", "--json",
                   "--base-model", "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["base_model"] == "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
    assert result["hosted"]["trained_from"].endswith("-Reference")


def test_wrong_key_is_reported_without_the_key(fake, tmp_path):
    run = finished_hosted_run(fake, "openai", tmp_path)
    wrong = "sk-wrong-KEY-fedcba9876543210"
    proc = run_cli("eval", run.run_id, "--runs-dir", str(tmp_path / "runs"), "--n", "2",
                   env={"OPENAI_API_KEY": wrong})
    assert proc.returncode != 0 and "HTTP 401" in proc.stderr and "OPENAI_API_KEY" in proc.stderr
    assert wrong not in proc.stderr and "Traceback" not in proc.stderr
    for path in run.path.rglob("*"):
        if path.is_file():
            assert wrong.encode() not in path.read_bytes()


def test_no_key_and_no_terminal_says_which_variable(fake, tmp_path, monkeypatch):
    run = finished_hosted_run(fake, "openai", tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    proc = run_cli("eval", run.run_id, "--runs-dir", str(tmp_path / "runs"), "--n", "2", env={"OPENAI_API_KEY": ""})
    assert proc.returncode != 0 and "OPENAI_API_KEY" in proc.stderr and "Traceback" not in proc.stderr


def test_unfinished_hosted_run_is_refused(fake, tmp_path):
    run = finished_hosted_run(fake, "openai", tmp_path)
    state = run.read_state()
    state.pop("fine_tuned_model")
    run.write_state(**state)
    lines = [line for line in run.events.read_text().splitlines() if '"finished"' not in line]
    run.events.write_text("\n".join(lines) + "\n")
    assert tuned_model_id(run) is None
    from core.errors import TunewizError

    with pytest.raises(TunewizError, match="no fine-tuned model yet"):
        evaluate_run(run, n=2, api_key=KEY)
    assert not fake.chats


def test_rerun_keeps_ab_ratings_for_the_same_prompts(fake, tmp_path):
    from core.evaluate.ab import load_session, save_session

    run = finished_hosted_run(fake, "openai", tmp_path)
    result = evaluate_run(run, n=4, api_key=KEY, backoff=FAST)
    session = load_session(result)
    session.rate("a")
    save_session(run, result, session)
    again = evaluate_run(run, n=4, api_key=KEY, backoff=FAST)
    assert again["ab"]["tally"]["rated"] == 1
    assert "ab" not in evaluate_run(run, n=3, api_key=KEY, backoff=FAST)


def test_summary_lines_of_a_hosted_result():
    result = {"n": 2, "seed": 7, "loss": {"base": None, "tuned": None, "reason": "x"},
              "metrics": {"base": {"n": 2, "exact_match": 0.0}, "tuned": {"n": 2, "exact_match": 0.5}},
              "hosted": {"provider": "openai", "base_model": "b", "tuned_model": "ft:b"}}
    lines = summary_lines(result)
    assert lines[0].endswith(LOSS_UNAVAILABLE_SHORT) and lines[1].endswith(LOSS_UNAVAILABLE_SHORT)
    assert "tuned  50.0%" in lines[2] and "b vs ft:b via the openai chat API" in lines[-1]


# --- the Evaluate step ----------------------------------------------------------------------------------

@pytest.fixture
def hosted_project(project_dir, fake):
    run = finished_hosted_run(fake, "openai", project_dir)
    project = Project(project_dir)
    project.state.train["active_run"] = run.run_id
    project.save()
    return project_dir, run


async def test_evaluate_step_shows_a_hosted_eval_without_loss(hosted_project):
    from textual.widgets import DataTable

    from tui.app import make_app

    project_dir, run = hosted_project
    evaluate_run(run, n=5, api_key=KEY, backoff=FAST)
    app = make_app(project_dir, start_step="evaluate")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.run_dir.path == run.path and screen.hosted["title"] == "OpenAI"
        assert "ft:" in str(screen.query_one("#eval-run").render())
        numbers = screen.query_one("#eval-numbers", DataTable)
        cells = [str(c) for row in range(numbers.row_count) for c in numbers.get_row_at(row)]
        assert cells.count(LOSS_UNAVAILABLE_SHORT) == 2
        assert "Valid JSON" in cells and "100%" in cells and "0%" in cells
        assert screen.query_one("#eval-samples", DataTable).row_count == 5
        assert screen.query_one("#eval-key").display  # a hosted run can take the key in a hidden field
        await pilot.press("v", "a", "b", "t")
        tally = json.loads((run.path / "eval.json").read_text())["ab"]["tally"]
        assert tally["rated"] == 3 and tally["tie"] == 1 and tally["tuned"] + tally["base"] == 2
        assert "A\n" in str(screen.query_one("#ab-a").render())


async def test_evaluate_step_runs_a_hosted_eval_with_the_typed_key(hosted_project, fake, monkeypatch):
    from tui.app import make_app

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    project_dir, run = hosted_project
    app = make_app(project_dir, start_step="evaluate")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.query_one("#eval-n").value = "3"
        await pilot.press("e")  # no key anywhere: a clear message, no prompt, no crash
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "OPENAI_API_KEY" in str(screen.query_one("#eval-stage").render())
        assert read_eval(run) is None
        screen.query_one("#eval-key").value = KEY
        await pilot.press("e")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = read_eval(run)
        assert result and result["n"] == 3 and result["metrics"]["tuned"]["exact_match"] == 1.0
        assert screen.query_one("#eval-key").value == ""  # not kept on screen after use
        assert Project(project_dir).state.is_ticked("evaluated")
    assert_key_nowhere(run)
    assert KEY not in (project_dir / "tunewiz.yaml").read_text()
