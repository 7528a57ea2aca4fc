"""The demo's sample data: support-ticket triage into a fixed JSON schema, a narrow, consistent-format
task where fine-tuning visibly helps a small model. Deterministic (seeded); the output is committed in
`examples/support-tickets/`, and `python -m core.sample_data` regenerates it.

Also writes a messy copy with deliberate faults for the Data step to catch: broken JSON, a missing
assistant turn, duplicates, a leaked (fake) API key, an email address, and an over-long example."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

SYSTEM_PROMPT = (
    "You triage customer support tickets. Reply with only a JSON object with the keys "
    '"category" (billing, technical, account or shipping), "priority" (low, medium or high) '
    'and "sentiment" (negative, neutral or positive).'
)
CATEGORIES = ("billing", "technical", "account", "shipping")
PRIORITIES = ("low", "medium", "high")
SENTIMENTS = ("negative", "neutral", "positive")

_TEMPLATES = {
    "billing": [
        "I was charged twice for my {plan} subscription this month.",
        "Invoice #{n} shows the wrong amount for the {plan} plan.",
        "Please refund the ${amount} charge on my card.",
        "My card was declined when I tried to pay for {plan}.",
        "Why did my bill go up by ${amount} after I upgraded to {plan}?",
        "I cancelled {plan} but I was still billed ${amount}.",
    ],
    "technical": [
        "The app crashes every time I {action}.",
        "I get error {code} when I {action}.",
        "The {feature} page does not load in my browser.",
        "Sync stopped working on my {device} yesterday.",
        "Exports from {feature} come out empty.",
        "Notifications no longer arrive on my {device}.",
    ],
    "account": [
        "I can't log in to my account anymore.",
        "How do I change the email address on my account?",
        "Please delete my account and all my data.",
        "The password reset link you sent has expired.",
        "I want to add a second user to my account.",
        "My account got locked after too many login attempts.",
    ],
    "shipping": [
        "Order #{n} still hasn't arrived.",
        "The package for order #{n} was delivered damaged.",
        "Can I change the delivery address for order #{n}?",
        "Tracking for order #{n} shows no update for {days} days.",
        "I received the wrong item in order #{n}.",
        "Half of order #{n} is missing from the box.",
    ],
}
_PRIORITY_CUES = {
    "high": ["This is urgent.", "Please fix this ASAP.", "Our whole team is blocked right now.", "I need this today."],
    "medium": [""],
    "low": ["No rush.", "Whenever you get a chance.", "Not urgent at all.", "Just curious."],
}
_SENTIMENT_CUES = {
    "negative": ["This is unacceptable.", "I'm really frustrated.", "Very disappointed with your service."],
    "neutral": [""],
    "positive": ["Thanks so much!", "I love your product.", "You have been great so far."],
}
_FILL = {
    "plan": ["Pro", "Team", "Basic", "Enterprise", "Starter"],
    "action": ["open a project", "upload a photo", "save a draft", "log in", "share a file", "print a report"],
    "code": ["500", "E102", "403", "TIMEOUT", "0x80070005"],
    "feature": ["dashboard", "reports", "settings", "calendar", "billing history"],
    "device": ["iPhone", "Android phone", "laptop", "tablet"],
}


def _ticket(rng: random.Random) -> tuple[str, dict[str, str]]:
    category = rng.choice(CATEGORIES)
    priority = rng.choice(PRIORITIES)
    sentiment = rng.choice(SENTIMENTS)
    text = rng.choice(_TEMPLATES[category]).format(
        n=rng.randint(10000, 99999), amount=rng.randint(5, 500), days=rng.randint(3, 20),
        **{k: rng.choice(v) for k, v in _FILL.items()},
    )
    cues = [rng.choice(_PRIORITY_CUES[priority]), rng.choice(_SENTIMENT_CUES[sentiment])]
    rng.shuffle(cues)
    body = " ".join(p for p in [text, *cues] if p)
    return body, {"category": category, "priority": priority, "sentiment": sentiment}


def generate_tickets(n: int = 600, seed: int = 7) -> list[dict[str, Any]]:
    """`n` distinct tickets as chat examples whose assistant reply is the triage JSON."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows = []
    while len(rows) < n:
        body, label = _ticket(rng)
        if body in seen:
            continue
        seen.add(body)
        rows.append({"messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": body},
            {"role": "assistant", "content": json.dumps(label)},
        ]})
    return rows


def messy_lines(rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
    """A copy of the first 120 rows with faults injected; returns the lines and the 1-based line of
    each fault so tests can check they are reported where they are."""
    lines = [json.dumps(r) for r in rows[:120]]
    faults: dict[str, int] = {}

    def put(kind: str, index: int, line: str) -> None:
        lines.insert(index, line)
        for k, v in faults.items():
            if v >= index + 1:
                faults[k] = v + 1
        faults[kind] = index + 1

    put("broken_json", 10, lines[9][: len(lines[9]) // 2])
    no_answer = {"messages": rows[200]["messages"][:2]}
    put("missing_assistant", 25, json.dumps(no_answer))
    put("duplicate", 40, lines[5])
    leaked = json.loads(json.dumps(rows[201]))
    leaked["messages"][1]["content"] += " My API key is sk-FAKEdemo0000111122223333444455556666 if you need it."
    put("secret", 60, json.dumps(leaked))
    email = json.loads(json.dumps(rows[202]))
    email["messages"][1]["content"] += " Reach me at jane.doe@example.com."
    put("email", 75, json.dumps(email))
    long = json.loads(json.dumps(rows[203]))
    long["messages"][1]["content"] += " Here is the full log: " + " ".join(f"line {i}: request failed" for i in range(700))
    put("over_long", 90, json.dumps(long))
    return lines, faults


def write_sample_data(out_dir: str | Path) -> dict[str, Any]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = generate_tickets()
    (out / "tickets.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    lines, faults = messy_lines(rows)
    (out / "tickets-messy.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    (out / "tickets-messy.faults.json").write_text(json.dumps(faults, indent=2) + "\n", encoding="utf-8")
    return {"examples": len(rows), "messy_lines": len(lines), "faults": faults}


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1] / "examples" / "support-tickets")
    print(json.dumps(write_sample_data(target)))
