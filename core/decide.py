"""The "Should you fine-tune?" decision guide: the guide's "When to Fine-Tune" lists and its
"Fine-Tuning vs Alternatives" table made executable. Each answer adds weight for or against the five
approaches; the highest total wins (ties go to the lower-effort approach), and every reason shown is
tied to the answer that caused it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import TunewizError


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    choices: tuple[tuple[str, str], ...]  # (value, label)
    help: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.choices)


YES_NO = (("yes", "Yes"), ("no", "No"))

QUESTIONS: tuple[Question, ...] = (
    Question("prompting_tried", "Have you tried a clear, careful prompt with a strong model?", YES_NO,
             "The guide: just starting? Try prompting first."),
    Question("few_shot_works", "Does few-shot prompting (5-20 examples in the prompt) give good enough results?",
             (("yes", "Yes"), ("no", "No, not enough"), ("not_tried", "Not tried yet"))),
    Question("labeled_examples", "How many labeled input/output examples do you have?",
             (("none", "None"), ("under_100", "Fewer than 100"), ("100_500", "100-500"), ("500_2000", "500-2,000"),
              ("2000_10000", "2,000-10,000"), ("over_10000", "Over 10,000")),
             "The guide's Data Quantity table: 100-500 noticeable, 500-2000 good, 2000-10000 excellent."),
    Question("task_scope", "Is the task narrow (one well-defined job) or general (open-ended, broad knowledge)?",
             (("narrow", "Narrow"), ("general", "General"))),
    Question("data_changes_often", "Does the information the model needs change often?", YES_NO,
             "Prices, policies, tickets, docs that are updated weekly..."),
    Question("need_consistent_format", "Do you need a consistent style or output format every time?", YES_NO),
    Question("need_cheaper_inference", "Do you need cheaper or faster inference, or a small model you host yourself?", YES_NO),
    Question("domain_terminology", "Does domain-specific terminology matter?", YES_NO),
    Question("need_grounding", "Must answers be grounded in (and traceable to) your documents?", YES_NO),
    Question("domain_text_tokens", "Do you have millions of tokens of unlabeled domain text?", YES_NO),
)
QUESTION_BY_ID = {q.id: q for q in QUESTIONS}


@dataclass(frozen=True)
class Approach:
    id: str
    title: str
    data_needed: str
    effort: str
    best_for: str
    next_step: str


# The guide's "Fine-Tuning vs Alternatives" table, in order of effort.
APPROACHES: tuple[Approach, ...] = (
    Approach("better_prompting", "Better prompting", "0", "Low", "First attempt",
             "Write a system prompt that states the task, the constraints and one example of the output; try it on "
             "20 real inputs with a strong model and note where it fails before collecting training data."),
    Approach("few_shot", "Few-shot prompting", "5-20", "Low", "Format/style",
             "Put 5-20 of your best examples in the prompt and measure on held-out inputs; revisit fine-tuning if "
             "cost, latency or consistency becomes the problem."),
    Approach("rag", "RAG", "Documents", "Medium", "Knowledge grounding",
             "Index your documents (chunk, embed, retrieve the top matches) and put the retrieved passages in the "
             "prompt; fine-tune later only for format or style on top of retrieval."),
    Approach("fine_tuning", "Fine-tuning", "100-10,000", "High", "Behavior change",
             "Prepare your examples as chat JSONL and go to the Data step: tunewiz checks them, splits 90/10 and "
             "plans a LoRA/QLoRA run that fits your GPU."),
    Approach("continued_pretraining", "Continued pretraining", "Millions", "Very High", "Domain adaptation",
             "Collect and clean the domain text, continue pretraining on it (millions of tokens, usually several "
             "GPUs), then instruction-tune on labeled examples."),
)
APPROACH_BY_ID = {a.id: a for a in APPROACHES}
EFFORT_ORDER = [a.id for a in APPROACHES]

# (question, answer) -> [(approach, weight, reason)]. Positive weight argues for the approach.
RULES: dict[tuple[str, str], list[tuple[str, int, str]]] = {
    ("prompting_tried", "no"): [
        ("better_prompting", 5, "You have not tried prompting yet: the guide says try prompting first, it costs nothing."),
        ("fine_tuning", -3, "Fine-tuning before trying prompting risks weeks of work on a problem a prompt solves."),
    ],
    ("prompting_tried", "yes"): [
        ("fine_tuning", 1, "Prompting alone was tried and is not enough."),
        ("better_prompting", -2, "You already tried careful prompting."),
    ],
    ("few_shot_works", "yes"): [
        ("few_shot", 4, "Few-shot prompting already works: the guide says don't fine-tune then."),
        ("fine_tuning", -2, "Few-shot prompting already gives good enough results."),
    ],
    ("few_shot_works", "no"): [
        ("fine_tuning", 2, "Few-shot prompting was tried and is not enough: a behaviour change needs training."),
        ("few_shot", -3, "Few-shot prompting was tried and is not enough."),
    ],
    ("few_shot_works", "not_tried"): [
        ("few_shot", 2, "Few-shot prompting is untried: 5-20 examples in the prompt are a cheap next test."),
    ],
    ("labeled_examples", "none"): [
        ("fine_tuning", -5, "You have no labeled examples; fine-tuning needs 100-10,000."),
        ("better_prompting", 1, "With no examples, a better prompt is the tool you have."),
    ],
    ("labeled_examples", "under_100"): [
        ("fine_tuning", -4, "Fewer than 100 labeled examples: the guide says don't fine-tune (minimal effect)."),
        ("few_shot", 2, "Your handful of examples makes a good few-shot set."),
    ],
    ("labeled_examples", "100_500"): [("fine_tuning", 2, "100-500 examples: the guide expects a noticeable improvement.")],
    ("labeled_examples", "500_2000"): [("fine_tuning", 3, "500-2,000 examples: the guide expects good results.")],
    ("labeled_examples", "2000_10000"): [("fine_tuning", 4, "2,000-10,000 examples: the guide expects excellent results.")],
    ("labeled_examples", "over_10000"): [
        ("fine_tuning", 4, "More than 10,000 examples: plenty (the guide notes diminishing returns past 10,000)."),
    ],
    ("task_scope", "general"): [
        ("better_prompting", 3, "The task is general: the guide says use a bigger model rather than fine-tune."),
        ("fine_tuning", -3, "General tasks are where large prompted models beat small fine-tuned ones."),
    ],
    ("task_scope", "narrow"): [("fine_tuning", 2, "The task is narrow: fine-tuning is at its best on one well-defined job.")],
    ("data_changes_often", "yes"): [
        ("rag", 4, "The information changes often: retrieval stays current, while fine-tuning bakes facts in."),
        ("fine_tuning", -2, "Data that changes often would need retraining after every change."),
        ("continued_pretraining", -2, "Pretraining on data that changes often goes stale."),
    ],
    ("need_consistent_format", "yes"): [
        ("fine_tuning", 2, "You need a consistent style/format: the guide lists this as a reason to fine-tune."),
        ("few_shot", 1, "Format and style are what few-shot prompting is best for."),
    ],
    ("need_cheaper_inference", "yes"): [
        ("fine_tuning", 3, "You want cheaper inference: a small fine-tuned model can replace a large prompted one."),
    ],
    ("domain_terminology", "yes"): [
        ("fine_tuning", 1, "Domain terminology matters: the guide lists this as a reason to fine-tune."),
        ("continued_pretraining", 1, "Heavy domain vocabulary is what continued pretraining adapts to."),
    ],
    ("need_grounding", "yes"): [
        ("rag", 5, "Answers must be grounded in your documents: retrieval can show its sources; fine-tuning cannot."),
    ],
    ("domain_text_tokens", "yes"): [
        ("continued_pretraining", 3, "You have millions of tokens of domain text, the data continued pretraining needs."),
    ],
    ("domain_text_tokens", "no"): [
        ("continued_pretraining", -3, "Continued pretraining needs millions of tokens of domain text, which you don't have."),
    ],
}

# Answer pairs that pull in opposite directions: say so, and say how the recommendation resolves them.
CONTRADICTIONS: tuple[tuple[dict[str, str], str], ...] = (
    ({"few_shot_works": "yes", "need_cheaper_inference": "yes"},
     "Few-shot works, yet you want cheaper inference: the few-shot prompts of a large model can label data to "
     "fine-tune a small one, if you have (or can make) 100+ examples."),
    ({"few_shot_works": "yes", "prompting_tried": "no"},
     "You say few-shot works but that prompting was not tried: few-shot *is* prompting, so prompting works."),
    ({"data_changes_often": "yes", "need_consistent_format": "yes"},
     "Changing facts argue for retrieval, a fixed format for fine-tuning: the two combine (RAG for facts, a "
     "fine-tune for format)."),
    ({"task_scope": "general", "need_cheaper_inference": "yes"},
     "A general task with cheap inference is hard: small models lose breadth; narrow the task to what you need."),
    ({"labeled_examples": "under_100", "need_cheaper_inference": "yes"},
     "You want a small, cheap model but have under 100 examples: gather more (or generate them with a large model "
     "and review them) before fine-tuning."),
)


@dataclass
class Reason:
    question: str
    answer: str
    approach: str
    weight: int
    text: str


@dataclass
class Recommendation:
    recommendation: str
    title: str
    reasons: list[Reason]
    against: list[Reason]
    data_needed: str
    effort: str
    best_for: str
    next_step: str
    scores: dict[str, int]
    notes: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    prompting_tried: bool = False

    @property
    def fine_tune(self) -> bool:
        return self.recommendation == "fine_tuning"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = [r["text"] for r in data["reasons"]]
        data["reason_details"] = [asdict(r) for r in self.reasons]
        data["against"] = [asdict(r) for r in self.against]
        return data


def validate_answers(answers: dict[str, Any], source: str = "answers") -> dict[str, str]:
    """Check ids and values; raise a TunewizError naming the field and its allowed values."""
    if not isinstance(answers, dict):
        raise TunewizError(f"{source}: expected a JSON object of question id -> answer")
    clean: dict[str, str] = {}
    for key, value in answers.items():
        question = QUESTION_BY_ID.get(key)
        if question is None:
            raise TunewizError(f"{source}: {key}: unknown question; known: {', '.join(QUESTION_BY_ID)}")
        if isinstance(value, bool):
            value = "yes" if value else "no"
        if value is None:
            continue
        if str(value) not in question.values:
            raise TunewizError(f"{source}: {key}: {value!r} is not an allowed answer; allowed: {', '.join(question.values)}")
        clean[key] = str(value)
    return clean


def recommend(answers: dict[str, Any]) -> Recommendation:
    """The guide's recommendation for `answers` (question id -> value; missing ids count as unknown)."""
    answers = validate_answers(answers)
    scores = {a.id: 0 for a in APPROACHES}
    scores["better_prompting"] = 1  # with nothing known, the guide's first attempt
    contributions: list[Reason] = []
    for qid, value in answers.items():
        for approach, weight, text in RULES.get((qid, value), []):
            scores[approach] += weight
            contributions.append(Reason(qid, value, approach, weight, text))
    best = max(EFFORT_ORDER, key=lambda a: (scores[a], -EFFORT_ORDER.index(a)))
    approach = APPROACH_BY_ID[best]
    reasons = [c for c in contributions if c.approach == best and c.weight > 0]
    against = [c for c in contributions if c.approach == best and c.weight < 0]
    if best != "fine_tuning":
        against += [c for c in contributions if c.approach == "fine_tuning" and c.weight < 0]
    if not reasons:
        reasons = [Reason("", "", best, 0, "With little known yet, the guide's first attempt is a better prompt.")]
    notes = [text for pair, text in CONTRADICTIONS if all(answers.get(k) == v for k, v in pair.items())]
    return Recommendation(
        recommendation=best,
        title=approach.title,
        reasons=reasons,
        against=against,
        data_needed=approach.data_needed,
        effort=approach.effort,
        best_for=approach.best_for,
        next_step=approach.next_step,
        scores=scores,
        notes=notes,
        unanswered=[q.id for q in QUESTIONS if q.id not in answers],
        prompting_tried=answers.get("prompting_tried") == "yes",
    )


def questions_json() -> list[dict[str, Any]]:
    return [
        {"id": q.id, "text": q.text, "help": q.help, "answers": list(q.values),
         "labels": {v: label for v, label in q.choices}}
        for q in QUESTIONS
    ]


def load_answers_file(path: str | Path) -> dict[str, str]:
    """Read answers from a JSON file; errors name the file and position or the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TunewizError(f"{path}: no such answers file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TunewizError(f"{path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TunewizError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("answers"), dict):
        data = data["answers"]
    return validate_answers(data, str(path))
