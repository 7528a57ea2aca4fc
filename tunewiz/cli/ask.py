"""`tunewiz ask`: the decision guide as plain prompts, or answered from a JSON file."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ask",
        help="should you fine-tune? the decision guide as plain prompts",
        description="Answer the guide's questions and get one recommendation (better prompting, few-shot, RAG, "
        "fine-tuning or continued pretraining) with the reason behind each part of it.",
    )
    p.add_argument("--answers", metavar="FILE", help="answer from a JSON file ({question_id: answer}) instead of prompts")
    p.add_argument("--list-questions", action="store_true", help="print the question ids and allowed answers")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--save", action="store_true", help="save the answers and the result in the project's tunewiz.yaml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.decide import QUESTIONS, load_answers_file, questions_json, recommend
    from core.errors import TunewizError
    from tunewiz.cli._common import print_json

    if args.list_questions:
        if args.json:
            print_json(questions_json())
        else:
            for q in QUESTIONS:
                print(f"{q.id}: {q.text}\n    answers: {', '.join(q.values)}")
        return 0
    if args.answers:
        answers = load_answers_file(args.answers)
    else:
        if not sys.stdin.isatty():
            raise TunewizError("`tunewiz ask` needs a terminal for its prompts", hint="use --answers FILE for scripts")
        answers = _prompt_answers()
        if answers is None:
            return 130
    result = recommend(answers)
    if args.save:
        from core.project import Project

        project = Project(args.project)
        project.state.decide.answers = answers
        project.state.decide.recommendation = result.recommendation
        project.state.tick("prompting_tried", "you tried prompting first", done=result.prompting_tried)
        project.save()
    if args.json:
        print_json(result.to_json())
    else:
        print(format_text(result))
    return 0


def _prompt_answers() -> dict[str, str] | None:
    import questionary

    answers: dict[str, str] = {}
    from core.decide import QUESTIONS

    for q in QUESTIONS:
        choice = questionary.select(
            q.text,
            choices=[questionary.Choice(label, value=value) for value, label in q.choices],
            instruction=q.help or None,
        ).ask()
        if choice is None:  # Ctrl+C
            return None
        answers[q.id] = choice
    return answers


def format_text(result) -> str:
    lines = [f"Recommendation: {result.title}", ""]
    lines.append("Why:")
    lines += [f"  - {r.text}" for r in result.reasons]
    if result.against:
        lines.append("Weighing against:")
        lines += [f"  - {r.text}" for r in result.against]
    for note in result.notes:
        lines.append(f"Note: {note}")
    lines.append("")
    lines.append(f"Data needed: {result.data_needed}   Effort: {result.effort}   Best for: {result.best_for}")
    lines.append(f"Next step: {result.next_step}")
    if result.unanswered:
        lines.append(f"(unanswered: {', '.join(result.unanswered)})")
    return "\n".join(lines)
