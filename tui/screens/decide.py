"""Step 1, Decide: the guide's "Should you fine-tune?" questions with a live recommendation."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, RadioButton, RadioSet, Static

from core.decide import QUESTIONS, Recommendation, recommend
from tui.screens.base import StepScreen


class DecideScreen(StepScreen):
    step_id = "decide"
    CSS_PATH = "../styles/decide.tcss"
    HELP = """Answer what you know; the recommendation on the right updates as you go, and each reason names the answer behind it.

- **Tab / Shift+Tab** move between questions, **↑ ↓** pick an answer, **Enter** or **Space** selects it.
- **Continue** goes to the Data step when fine-tuning is the advice. When it isn't, **Fine-tune anyway** proceeds
  and the wizard records that you chose to go against the advice.
- The checklist item *Prompting alone tried first* ticks when you answer that you tried prompting.

Based on the guide's *When to Fine-Tune* lists and its *Fine-Tuning vs Alternatives* table."""

    def compose_body(self) -> ComposeResult:
        answers = self.app.project.state.decide.answers
        yield Static("Should you fine-tune?", classes="step-title")
        with Horizontal(id="decide-main"):
            with VerticalScroll(id="questions"):
                for i, q in enumerate(QUESTIONS, 1):
                    yield Label(f"{i}. {q.text}", classes="question")
                    with RadioSet(id=f"q-{q.id}", classes="answers"):
                        for value, label in q.choices:
                            yield RadioButton(label, value=answers.get(q.id) == value, name=value)
            with Vertical(id="verdict-panel"):
                yield Static(id="verdict")
                yield Button("Continue to Data", id="continue", variant="primary")

    def on_mount(self) -> None:
        self.refresh_verdict()

    @property
    def result(self) -> Recommendation:
        return recommend(self.app.project.state.decide.answers)

    @on(RadioSet.Changed)
    def answer_changed(self, event: RadioSet.Changed) -> None:
        qid = (event.radio_set.id or "").removeprefix("q-")
        value = event.pressed.name
        state = self.app.project.state
        answers = dict(state.decide.answers)
        answers[qid] = value
        state.decide.answers = answers
        result = recommend(answers)
        state.decide.recommendation = result.recommendation
        if qid == "prompting_tried":
            state.tick("prompting_tried", "you tried prompting first", done=result.prompting_tried)
        self.app.save_project()
        self.refresh_verdict()

    def refresh_verdict(self) -> None:
        result = self.result
        decide = self.app.project.state.decide
        text = Text()
        text.append("Recommendation\n", style="bold")
        style = "bold green" if result.fine_tune else "bold yellow"
        text.append(f"{result.title}\n", style=style)
        if len(result.unanswered) > len(QUESTIONS) // 2:
            text.append("provisional: answer more questions\n", style="italic dim")
        text.append("\n")
        text.append("Why\n", style="bold")
        for r in result.reasons:
            text.append(f"• {r.text}\n")
        if result.against:
            text.append("\nWeighing against\n", style="bold")
            for r in result.against:
                text.append(f"• {r.text}\n", style="dim")
        for note in result.notes:
            text.append(f"\nNote: {note}\n", style="italic")
        text.append(f"\nData needed: {result.data_needed}   Effort: {result.effort}\nBest for: {result.best_for}\n")
        text.append("\nNext step\n", style="bold")
        text.append(result.next_step + "\n")
        answered = len(QUESTIONS) - len(result.unanswered)
        text.append(f"\n{answered}/{len(QUESTIONS)} questions answered", style="dim")
        if decide.proceed_against_advice and not result.fine_tune:
            text.append("\nYou chose to fine-tune against this advice.", style="italic yellow")
        self.query_one("#verdict", Static).update(text)
        button = self.query_one("#continue", Button)
        button.label = "Continue to Data" if result.fine_tune else "Fine-tune anyway"
        button.variant = "primary" if result.fine_tune else "warning"

    @on(Button.Pressed, "#continue")
    def proceed(self) -> None:
        self.action_next_step()

    def action_next_step(self) -> None:
        state = self.app.project.state
        result = self.result
        state.decide.recommendation = result.recommendation
        state.decide.proceed_against_advice = not result.fine_tune
        self.app.save_project()
        self.refresh_verdict()
        self.app.next_step()
