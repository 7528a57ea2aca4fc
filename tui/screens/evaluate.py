"""The Evaluate step: base vs tuned numbers on the held-out split, the side-by-side answers, and a
blind A/B mode with a running tally. The evaluation itself is `core.evaluate.runner.evaluate_run`; for a
hosted run it goes through the provider's chat API and the loss rows say they are not available."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from tui.screens.base import StepScreen


class EvalProgressed(Message):
    def __init__(self, stage: str, done: int, total: int):
        super().__init__()
        self.stage, self.done, self.total = stage, done, total


class EvalFinished(Message):
    def __init__(self, result: dict):
        super().__init__()
        self.result = result


class EvalFailed(Message):
    def __init__(self, error: str):
        super().__init__()
        self.error = error


STAGES = ["load", "loss:base", "loss:tuned", "generate:base", "generate:tuned"]
HOSTED_STAGES = ["load", "generate:base", "generate:tuned"]
METRIC_LABELS = {"exact_match": "Exact match", "contains": "Contains reference", "json_valid": "Valid JSON",
                 "field_match": "JSON fields match", "regex": "Regex match"}


class EvaluateScreen(StepScreen):
    step_id = "evaluate"
    CSS_PATH = "../styles/evaluate.tcss"
    HELP = """# Evaluate

Compares the **base** model and your **fine-tuned** model on the held-out validation split:

- **Loss / perplexity** on the validation examples (lower is better; the guide's overfitting sign is
  validation loss rising while training loss falls).
- **Task accuracy** on N held-out prompts: exact match, whether the answer contains the reference,
  and for JSON references whether the output is valid JSON and which fields match. An optional
  regex adds a custom check.
- **Blind A/B** (the guide's "Human eval"): both answers in random order; pick the better one.

For a **hosted run** (OpenAI, Together) both models answer through the provider's chat API (the key
from `OPENAI_API_KEY` / `TOGETHER_API_KEY` or the hidden key field; never saved). Loss and perplexity
are not available for hosted models: a chat API returns text, not token probabilities.

## Keys
- **e** run the evaluation (N prompts and the optional regex come from the fields above the table)
- **v** switch between the side-by-side table and blind A/B
- in A/B: **a** prefer A, **b** prefer B, **t** tie, **s** skip, **u** undo the last rating

Results are saved in the run folder as `eval.json`; `tunewiz eval RUN` does the same from a shell.
"""
    BINDINGS = [
        Binding("e", "run_eval", "Evaluate"),
        Binding("v", "toggle_ab", "Side-by-side / A/B"),
        Binding("a", "rate('a')", "Prefer A", show=False),
        Binding("b", "rate('b')", "Prefer B", show=False),
        Binding("t", "rate('tie')", "Tie", show=False),
        Binding("s", "rate('skip')", "Skip", show=False),
        Binding("u", "undo", "Undo", show=False),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_dir = None
        self.result: dict | None = None
        self.session = None
        self.ab_mode = False
        self.hosted: dict | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Evaluate", classes="step-title")
        yield Static("", id="eval-run")
        with Horizontal(id="eval-controls"):
            yield Label("Prompts N")
            yield Input("20", id="eval-n", type="integer", max_length=5)
            yield Label("Regex")
            yield Input("", id="eval-regex", placeholder="optional, e.g. \\d+")
            yield Label("API key", id="eval-key-label")
            yield Input("", id="eval-key", password=True, placeholder="from the environment")
        yield ProgressBar(id="eval-progress", show_eta=False)
        yield Static("", id="eval-stage", classes="muted")
        yield DataTable(id="eval-numbers", cursor_type="none", zebra_stripes=True)
        with Vertical(id="eval-sxs"):
            yield DataTable(id="eval-samples", cursor_type="row", zebra_stripes=True)
            yield Static("", id="eval-detail")
        with VerticalScroll(id="eval-ab"):
            yield Static("", id="ab-tally")
            yield Static("", id="ab-prompt")
            with Horizontal(id="ab-pair"):
                yield Static("", id="ab-a", classes="ab-answer")
                yield Static("", id="ab-b", classes="ab-answer")
            yield Static("[b]a[/b] prefer A · [b]b[/b] prefer B · [b]t[/b] tie · [b]s[/b] skip · [b]u[/b] undo · "
                         "[b]v[/b] back to the table", classes="muted")

    def on_mount(self) -> None:
        from core.evaluate.loading import project_run
        from core.evaluate.runner import read_eval

        self.query_one("#eval-ab").display = False
        self.query_one("#eval-progress").display = False
        self.query_one("#eval-key-label").display = False
        self.query_one("#eval-key").display = False
        numbers = self.query_one("#eval-numbers", DataTable)
        numbers.add_columns("Metric", "Base", "Tuned", "Change")
        samples = self.query_one("#eval-samples", DataTable)
        samples.add_columns("#", "Prompt", "Reference", "Base", "Tuned", "Tuned ok")
        samples.focus()  # letter keys are commands; Tab reaches the N and regex fields
        self.run_dir = project_run(self.app.project)
        label = self.query_one("#eval-run", Static)
        if self.run_dir is None:
            label.update(Text("No finished run yet: train one in the Train step (or `tunewiz train`).", style="yellow"))
            return
        self.hosted = _hosted_info(self.run_dir)
        if self.hosted:
            self._show_key_field()
            label.update(Text.assemble(("Run ", "bold"), self.run_dir.run_id, (f"   {self.hosted['title']} ", "bold"),
                                       self.hosted["tuned"] or "no fine-tuned model yet",
                                       ("\npress e: both models answer through the chat API", "dim")))
        existing = read_eval(self.run_dir)
        if not self.hosted:
            self._show_run_label(evaluated=bool(existing))
        if existing:
            self.show_result(existing)

    # --- evaluation -------------------------------------------------------------------------
    def action_run_eval(self) -> None:
        if self.run_dir is None:
            self.notify("No run to evaluate yet.", severity="warning")
            return
        try:
            n = max(1, int(self.query_one("#eval-n", Input).value or "20"))
        except ValueError:
            n = 20
        regex = self.query_one("#eval-regex", Input).value.strip() or None
        bar = self.query_one("#eval-progress", ProgressBar)
        bar.display = True
        bar.update(total=len(self._stages()), progress=0)
        self.query_one("#eval-stage", Static).update(
            f"asking {self.hosted['title']}…" if self.hosted else "loading the model…")
        hosted = {}
        if self.hosted:  # never prompt on the terminal from a worker; the key field or the environment
            hosted = {"api_key": self.query_one("#eval-key", Input).value.strip() or None, "interactive": False}
        self.evaluate(n, regex, hosted)

    def _stages(self) -> list[str]:
        return HOSTED_STAGES if self.hosted else STAGES

    def _show_key_field(self) -> None:
        import os

        env = self.hosted["key_env"]
        self.add_class("hosted")
        self.query_one("#eval-key-label").display = True
        field = self.query_one("#eval-key", Input)
        field.display = True
        field.placeholder = f"{env} set" if os.environ.get(env) else f"or {env}"

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluate")
    def evaluate(self, n: int, regex: str | None, hosted: dict) -> None:
        from core.errors import TunewizError
        from core.evaluate.runner import evaluate_run

        try:
            result = evaluate_run(self.run_dir, n=n, regex=regex,
                                  progress=lambda s, d, t: self.post_message(EvalProgressed(s, d, t)), **hosted)
        except TunewizError as exc:
            self.post_message(EvalFailed(exc.message + (f" ({exc.hint})" if exc.hint else "")))
            return
        except Exception as exc:  # a bug or a broken model: show it, don't crash the wizard
            self.post_message(EvalFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(EvalFinished(result))

    def on_eval_progressed(self, message: EvalProgressed) -> None:
        stages = self._stages()
        stage_index = stages.index(message.stage) if message.stage in stages else 0
        fraction = message.done / message.total if message.total else 0
        self.query_one("#eval-progress", ProgressBar).update(progress=stage_index + fraction)
        self.query_one("#eval-stage", Static).update(f"{message.stage}  {message.done}/{message.total}")

    def on_eval_failed(self, message: EvalFailed) -> None:
        self.query_one("#eval-progress").display = False
        self.query_one("#eval-stage", Static).update(Text(message.error, style="red"))
        self.notify(message.error, title="Evaluation failed", severity="error")

    def _show_run_label(self, evaluated: bool) -> None:
        hint = "   evaluated · press e to evaluate again" if evaluated else "   press e to evaluate"
        self.query_one("#eval-run", Static).update(Text.assemble(("Run ", "bold"), self.run_dir.run_id, (hint, "dim")))

    def on_eval_finished(self, message: EvalFinished) -> None:
        if not self.hosted:
            self._show_run_label(evaluated=True)
        self.query_one("#eval-progress").display = False
        self.query_one("#eval-stage", Static).update(f"saved {self.run_dir.path / 'eval.json'}")
        self.query_one("#eval-key", Input).value = ""
        self.show_result(message.result)
        self.app.project.state.evaluate.update({"run_id": self.run_dir.run_id, "eval_file": str(self.run_dir.path / "eval.json")})
        self.app.tick("evaluated", f"eval.json for {self.run_dir.run_id}: {message.result['n']} prompts")

    def show_result(self, result: dict) -> None:
        from core.evaluate.ab import load_session
        from core.evaluate.runner import LOSS_UNAVAILABLE_SHORT, loss_available

        self.result = result
        self.session = load_session(result)
        numbers = self.query_one("#eval-numbers", DataTable)
        numbers.clear()
        loss = result.get("loss") or {}
        if not loss_available(result) and loss:
            na = Text(LOSS_UNAVAILABLE_SHORT, style="dim")
            numbers.add_row("Validation loss", na, Text("—", style="dim"), Text("", style="dim"))
            numbers.add_row("Perplexity", na, Text("—", style="dim"), Text("", style="dim"))
        elif loss:
            b, t = loss["base"], loss["tuned"]
            numbers.add_row("Validation loss", f"{b['loss']:.4f}", f"{t['loss']:.4f}", _delta(t["loss"] - b["loss"], lower_better=True))
            numbers.add_row("Perplexity", f"{b['perplexity']:.2f}", f"{t['perplexity']:.2f}",
                            _delta(t["perplexity"] - b["perplexity"], lower_better=True, fmt="{:+.2f}"))
        mb, mt = result["metrics"]["base"], result["metrics"]["tuned"]
        for key, label in METRIC_LABELS.items():
            if key in mt:
                numbers.add_row(label, f"{mb.get(key, 0):.0%}", f"{mt[key]:.0%}", _delta(mt[key] - mb.get(key, 0), fmt="{:+.0%}"))
        samples = self.query_one("#eval-samples", DataTable)
        samples.clear()
        for i, s in enumerate(result.get("samples", []), 1):
            ok = s["scores"]["tuned"]
            good = ok.get("field_match", ok.get("contains", 0)) >= 1.0
            samples.add_row(str(i), _short(s["prompt"]), _short(s["reference"]), _short(s["base"]), _short(s["tuned"]),
                            Text("✓", style="green") if good else Text("✗", style="red"), key=str(i - 1))
        self.show_detail(0)
        self.refresh_ab()

    def show_detail(self, index: int) -> None:
        samples = (self.result or {}).get("samples", [])
        if not samples or index >= len(samples):
            return
        s = samples[index]
        detail = Text()
        detail.append("Prompt: ", style="bold")
        detail.append(s["prompt"] + "\n")
        detail.append("Reference: ", style="bold green")
        detail.append(s["reference"] + "\n")
        detail.append("Base: ", style="bold")
        detail.append(_printable(s["base"] or "(empty)") + "\n")
        detail.append("Tuned: ", style="bold cyan")
        detail.append(_printable(s["tuned"] or "(empty)"))
        self.query_one("#eval-detail", Static).update(detail)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "eval-samples" and event.row_key is not None and event.row_key.value is not None:
            self.show_detail(int(event.row_key.value))

    # --- blind A/B ----------------------------------------------------------------------------
    def action_toggle_ab(self) -> None:
        if not self.result:
            self.notify("Evaluate first (press e): A/B rates the generated answers.", severity="warning")
            return
        self.ab_mode = not self.ab_mode
        self.query_one("#eval-ab").display = self.ab_mode
        self.query_one("#eval-sxs").display = not self.ab_mode
        self.refresh_ab()

    def check_action(self, action: str, parameters) -> bool | None:
        if action in ("rate", "undo"):
            return self.ab_mode
        return True

    def action_rate(self, choice: str) -> None:
        from core.evaluate.ab import save_session

        if not self.ab_mode or self.session is None or self.session.current() is None:
            return
        self.session.rate(choice)
        save_session(self.run_dir, self.result, self.session)
        self.refresh_ab()

    def action_undo(self) -> None:
        from core.evaluate.ab import save_session

        if self.ab_mode and self.session is not None and self.session.undo():
            save_session(self.run_dir, self.result, self.session)
            self.refresh_ab()

    def refresh_ab(self) -> None:
        from core.evaluate.ab import tally_line

        if self.session is None:
            return
        self.query_one("#ab-tally", Static).update(Text(tally_line(self.session.tally()), style="bold"))
        pair = self.session.current()
        if pair is None:
            self.query_one("#ab-prompt", Static).update(Text("Every pair is rated. Press v for the table.", style="green"))
            self.query_one("#ab-a", Static).update("")
            self.query_one("#ab-b", Static).update("")
            return
        prompt = Text()
        prompt.append(f"Pair {pair['number']} of {pair['total']}\n", style="dim")
        prompt.append("Prompt: ", style="bold")
        prompt.append(pair["prompt"] + "\n")
        prompt.append("Reference: ", style="bold green")
        prompt.append(pair["reference"])
        self.query_one("#ab-prompt", Static).update(prompt)
        self.query_one("#ab-a", Static).update(Text.assemble(("A\n", "bold"), _printable(pair["a"] or "(empty)")))
        self.query_one("#ab-b", Static).update(Text.assemble(("B\n", "bold"), _printable(pair["b"] or "(empty)")))


def _hosted_info(run) -> dict | None:
    """{title, key_env, tuned} for a hosted run's folder, None for a local run."""
    from core.evaluate.hosted import tuned_model_id
    from core.hosted.follower import read_hosted
    from core.hosted.providers import PROVIDERS

    settings = read_hosted(run)
    prov = PROVIDERS.get(str(settings.get("provider"))) if settings else None
    if prov is None:
        return None
    return {"title": prov.title, "key_env": prov.key_env, "tuned": tuned_model_id(run)}


def _printable(text: str) -> str:
    """Model output with control characters shown as '�' (an untrained model emits anything)."""
    return "".join(c if c.isprintable() or c in "\n\t" else "�" for c in (text or ""))


def _short(text: str, width: int = 16) -> str:
    text = " ".join(_printable(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _delta(value: float, lower_better: bool = False, fmt: str = "{:+.4f}") -> Text:
    better = value < 0 if lower_better else value > 0
    style = "green" if better else ("red" if value != 0 else "dim")
    return Text(fmt.format(value), style=style)
