"""Blind A/B rating (the guide's "Human eval" row): each held-out prompt's base and tuned answers are
shown as A and B in a seeded random order; the person prefers A or B, calls a tie, or skips. Ratings
are stored de-blinded (which model won) in eval.json's "ab" section:

  {"seed", "order": [[sample_position, tuned_is_a], ...], "ratings": {"<sample_position>": "tuned"|"base"|"tie"|"skip"},
   "tally": {"tuned", "base", "tie", "skip", "rated", "remaining", "tuned_win_rate"}}"""

from __future__ import annotations

import random
from typing import Any

CHOICES = ("a", "b", "tie", "skip")
OUTCOMES = ("tuned", "base", "tie", "skip")


class ABSession:
    """A/B state over eval samples. `current()` is the next unrated pair; `rate(choice)` records it."""

    def __init__(self, samples: list[dict[str, Any]], seed: int = 0, state: dict[str, Any] | None = None):
        self.samples = samples
        self.seed = seed
        state = state or {}
        order = state.get("order")
        if not order or len(order) != len(samples) or state.get("seed") != seed:
            rng = random.Random(seed)
            positions = list(range(len(samples)))
            rng.shuffle(positions)
            order = [[pos, rng.random() < 0.5] for pos in positions]
            state = {}
        self.order: list[list[Any]] = [[int(p), bool(t)] for p, t in order]
        self.ratings: dict[int, str] = {int(k): v for k, v in (state.get("ratings") or {}).items() if v in OUTCOMES}
        self.history: list[int] = []

    def current(self) -> dict[str, Any] | None:
        """The next unrated pair: {"position", "number", "total", "prompt", "reference", "a", "b"}; None when done."""
        for number, (pos, tuned_is_a) in enumerate(self.order, 1):
            if pos in self.ratings:
                continue
            sample = self.samples[pos]
            a, b = (sample["tuned"], sample["base"]) if tuned_is_a else (sample["base"], sample["tuned"])
            return {"position": pos, "number": number, "total": len(self.order), "prompt": sample.get("prompt", ""),
                    "messages": sample.get("messages", []), "reference": sample.get("reference", ""), "a": a, "b": b}
        return None

    def rate(self, choice: str) -> str:
        """Record `choice` (a, b, tie, skip) for the current pair; returns the de-blinded outcome."""
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {', '.join(CHOICES)}")
        pair = self.current()
        if pair is None:
            raise ValueError("every pair is already rated")
        tuned_is_a = dict((p, t) for p, t in self.order)[pair["position"]]
        if choice in ("tie", "skip"):
            outcome = choice
        else:
            outcome = "tuned" if (choice == "a") == tuned_is_a else "base"
        self.ratings[pair["position"]] = outcome
        self.history.append(pair["position"])
        return outcome

    def undo(self) -> bool:
        """Forget the last rating made in this session."""
        if not self.history:
            return False
        self.ratings.pop(self.history.pop(), None)
        return True

    def tally(self) -> dict[str, Any]:
        counts = {outcome: 0 for outcome in OUTCOMES}
        for outcome in self.ratings.values():
            counts[outcome] += 1
        judged = counts["tuned"] + counts["base"] + counts["tie"]
        return {
            **counts,
            "rated": len(self.ratings),
            "remaining": len(self.order) - len(self.ratings),
            "tuned_win_rate": (counts["tuned"] + 0.5 * counts["tie"]) / judged if judged else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "order": self.order, "ratings": {str(k): v for k, v in self.ratings.items()},
                "tally": self.tally()}


def load_session(result: dict[str, Any]) -> ABSession:
    """The A/B session stored in an eval result (a fresh one when there is none)."""
    return ABSession(result.get("samples", []), int(result.get("seed") or 0), result.get("ab"))


def save_session(run, result: dict[str, Any], session: ABSession) -> None:
    """Store the session's state in `result` and rewrite the run's eval.json."""
    from core.evaluate.runner import write_eval

    result["ab"] = session.to_dict()
    write_eval(run, result)


def tally_line(tally: dict[str, Any]) -> str:
    rate = tally.get("tuned_win_rate")
    rate_text = f"{rate:.0%}" if rate is not None else "n/a"
    return (f"tuned {tally['tuned']} · base {tally['base']} · tie {tally['tie']} · skip {tally['skip']}"
            f"  |  tuned win rate {rate_text}  |  {tally['remaining']} left")
