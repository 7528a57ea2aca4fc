"""Task metrics and the blind A/B session: pure Python, no model."""

import pytest

from core.errors import TunewizError
from core.evaluate.ab import ABSession
from core.evaluate.metrics import aggregate, compile_regex, normalize, score_answer


def test_exact_and_contains():
    s = score_answer("  Blue ", "Blue")
    assert s["exact_match"] == 1.0 and s["contains"] == 1.0
    s = score_answer("I think the sky is BLUE!", "blue")
    assert s["exact_match"] == 0.0 and s["contains"] == 1.0
    assert score_answer("red", "blue")["contains"] == 0.0
    assert normalize("The  Sky, is BLUE.") == "the sky is blue"
    assert "json_valid" not in score_answer("red", "blue")  # plain-text reference: no JSON metrics


def test_json_metrics():
    ref = '{"thing": "sky", "color": "blue"}'
    s = score_answer('{"color": "blue", "thing": "sky"}', ref)
    assert s["json_valid"] == 1.0 and s["field_match"] == 1.0 and s["exact_match"] == 0.0
    s = score_answer('```json\n{"thing": "sky", "color": "red"}\n```', ref)
    assert s["json_valid"] == 1.0 and s["field_match"] == 0.5
    s = score_answer('{"thing": "sky", "color": ', ref)
    assert s["json_valid"] == 0.0 and s["field_match"] == 0.0


def test_regex_and_aggregate():
    pattern = compile_regex(r"\bblue\b")
    rows = [score_answer("blue", "blue", pattern), score_answer("navy", "blue", pattern)]
    agg = aggregate(rows)
    assert agg["n"] == 2 and agg["regex"] == 0.5 and agg["exact_match"] == 0.5 and agg["n_json"] == 0
    with pytest.raises(TunewizError, match="not a valid regular expression"):
        compile_regex("(unclosed")


def _samples(n):
    return [{"prompt": f"p{i}", "reference": "r", "base": f"base{i}", "tuned": f"tuned{i}"} for i in range(n)]


def test_ab_is_blind_and_deblinded_correctly():
    session = ABSession(_samples(20), seed=3)
    sides = set()
    prefer_tuned = 0
    while (pair := session.current()) is not None:
        tuned_is_a = pair["a"].startswith("tuned")
        sides.add(tuned_is_a)
        # Always prefer whichever side shows the tuned answer, except for two ties and one skip.
        if prefer_tuned < 17:
            assert session.rate("a" if tuned_is_a else "b") == "tuned"
            prefer_tuned += 1
        elif prefer_tuned < 19:
            assert session.rate("tie") == "tie"
            prefer_tuned += 1
        else:
            assert session.rate("skip") == "skip"
    assert sides == {True, False}  # both orders occur: the position does not give the model away
    tally = session.tally()
    assert tally == {"tuned": 17, "base": 0, "tie": 2, "skip": 1, "rated": 20, "remaining": 0,
                     "tuned_win_rate": pytest.approx(18 / 19)}


def test_ab_state_round_trips_and_undo():
    samples = _samples(5)
    session = ABSession(samples, seed=1)
    first = session.current()
    outcome = session.rate("a")
    assert outcome in ("tuned", "base")
    restored = ABSession(samples, seed=1, state=session.to_dict())
    assert restored.tally()["rated"] == 1 and restored.current()["position"] != first["position"]
    assert session.undo() and session.tally()["rated"] == 0
    assert session.current()["position"] == first["position"]
    with pytest.raises(ValueError):
        session.rate("c")
