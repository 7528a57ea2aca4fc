"""The Data step: pick a dataset, check it (progress bar), read the summary cards, the problems table (Enter shows
the raw line and the fix), the length histogram, duplicates and secrets, review a sample, and split.
All work is core's (`core.data`); this screen runs it in workers and shows the results."""

from __future__ import annotations

import time
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (Button, Checkbox, DataTable, Input, Label, ProgressBar, Select, Static, TabbedContent,
                             TabPane)

from tui.screens.base import StepScreen
from tui.screens.data_modals import FilePickerScreen, IssueDetailScreen, TextPromptScreen
from tui.widgets.data_review import ExampleMarked, JumpRequested, NoteRequested, ReviewPanel

FORMATS = ["auto", "messages", "sharegpt", "alpaca", "prompt-completion", "text"]
SHORT_VERDICT = {"fix_errors": "Fix errors", "too_few_examples": "Too few", "ready_with_warnings": "Usable",
                 "ready": "Ready"}
VERDICT_CLASS = {"fix_errors": "verdict-bad", "too_few_examples": "verdict-warn", "ready_with_warnings": "verdict-warn",
                 "ready": "verdict-good"}



NO_PROBLEMS = "no-problems"  # row key of the "nothing to fix" line

class CheckProgressed(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


class CheckFinished(Message):
    def __init__(self, report) -> None:
        super().__init__()
        self.report = report


class SampleLoaded(Message):
    def __init__(self, items: list, marks) -> None:
        super().__init__()
        self.items, self.marks = items, marks


class ExampleLoaded(Message):
    def __init__(self, item, line: int) -> None:
        super().__init__()
        self.item, self.line = item, line


class SplitFinished(Message):
    def __init__(self, result) -> None:
        super().__init__()
        self.result = result


class DataTaskFailed(Message):
    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what, self.error = what, error


class DataScreen(StepScreen):
    step_id = "data"
    CSS_PATH = "../styles/data.tcss"
    HELP = """# Data

Your data decides the result (the guide: *label quality is critical*). This step checks a dataset and
tells you exactly what is wrong, where, and how to fix it, before you spend GPU hours.

- **Path**: a `.jsonl`, `.json` (array), `.csv` or `.parquet` file, or a folder of them. **Browse** picks one.
- **Check** reads it (any size, streamed) and fills the summary cards and tabs.
- **Problems**: every problem with its line and field; **Enter** shows the raw line and the fix.
- **Lengths**: tokens per example (an estimate of chars/4 unless you give a tokenizer folder) and the
  recommended `max_seq_length`, which the Plan step uses.
- **Duplicates & secrets**: copies, conflicting answers, API keys and personal data (a fine-tuned model can
  repeat them).
- **Review**: a seeded random sample; **g** good, **b** bad, **s** skip, **n** note, **j** jump to a line,
  **←/→** move. Marks are saved in `<name>.review.json` beside your file.
- **Split**: 90/10 with seed 42 by default; duplicates are removed first so nothing leaks; writes
  `train.jsonl` and `val.jsonl` into the project folder. Your file is never modified.

Ticks: *Data formatted correctly* (a check with no errors), *Data quality verified* (20 examples marked, or
all if fewer), *Train/val split created*.
"""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.report = None
        self._last_progress = 0.0

    # --- layout -------------------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        data = self.app.project.state.data
        yield Static("Data", classes="step-title")
        with Horizontal(id="data-source"):
            yield Input(value=data.get("path", ""), placeholder="path to a .jsonl/.json/.csv/.parquet file or folder",
                        id="data-path")
            yield Button("Browse", id="data-browse")
            yield Button("Check", id="data-check", variant="primary")
        with Horizontal(id="data-options"):
            yield Select([(f, f) for f in FORMATS], value=data.get("format_choice", "auto"), allow_blank=False,
                         id="data-format")
            yield Input(placeholder="tokenizer folder or id (optional; default: chars/4 estimate)", id="data-tokenizer")
        with Horizontal(id="data-progress-row"):
            yield ProgressBar(total=100, show_eta=False, id="data-progress")
            yield Label(self._status_from_state(), id="data-status")
        with Horizontal(id="data-cards"):
            for key, title in (("format", "Format"), ("examples", "Examples"), ("quantity", "Quantity"),
                               ("errors", "Errors"), ("warnings", "Warnings"), ("verdict", "Verdict")):
                with Vertical(classes="card", id=f"card-{key}"):
                    yield Label(title, classes="card-title")
                    yield Static("–", classes="card-value", id=f"card-{key}-value")
        with TabbedContent(id="data-tabs"):
            with TabPane("Problems", id="tab-problems"):
                yield DataTable(id="data-issues", cursor_type="row", zebra_stripes=True)
            with TabPane("Lengths", id="tab-lengths"):
                with VerticalScroll():
                    yield Static("", id="data-tokens")
                    yield Static("", id="data-histogram")
            with TabPane("Duplicates & secrets", id="tab-quality"):
                with VerticalScroll():
                    yield Static("", id="data-duplicates", classes="panel")
                    yield Static("", id="data-secrets", classes="panel")
            with TabPane("Review", id="tab-review"):
                yield ReviewPanel(id="data-review")
            with TabPane("Split", id="tab-split"):
                with Horizontal(id="split-options"):
                    yield Label("validation share", classes="split-label")
                    yield Input(value="0.1", id="split-val")
                    yield Label("seed", classes="split-label")
                    yield Input(value="42", id="split-seed")
                    yield Checkbox("leave out examples marked bad", id="split-exclude-bad")
                yield Button("Split into train.jsonl / val.jsonl", id="data-split", variant="success")
                yield Static(self._split_from_state(), id="split-result")

    def on_mount(self) -> None:
        table = self.query_one("#data-issues", DataTable)
        table.add_columns("line", "severity", "code", "field", "message")
        self.query_one("#data-progress", ProgressBar).display = False

    def _status_from_state(self) -> str:
        d = self.app.project.state.data
        if not d.get("path"):
            return "Choose a dataset and press Check."
        if "examples" not in d:
            return "Press Check (or Enter in the path field) to check this file."
        return (f"Last check: {d.get('examples', 0)} examples, {d.get('errors', 0)} errors, "
                f"{d.get('warnings', 0)} warnings. Press Check to see the details.")

    def _split_from_state(self) -> str:
        d = self.app.project.state.data
        if not d.get("train_file"):
            return "Duplicates are removed before splitting, so nothing leaks between train and validation."
        return f"Current split: {d['train_examples']} train ({d['train_file']}), {d['val_examples']} val ({d['val_file']})"

    # --- check --------------------------------------------------------------------------------------------
    @on(Button.Pressed, "#data-browse")
    def browse(self) -> None:
        def picked(path: str | None) -> None:
            if path:
                self.query_one("#data-path", Input).value = path
                self.start_check()

        self.app.push_screen(FilePickerScreen(self.app.project.root), picked)

    @on(Button.Pressed, "#data-check")
    @on(Input.Submitted, "#data-path")
    def start_check(self) -> None:
        path = self.query_one("#data-path", Input).value.strip()
        if not path:
            self.notify("Type a path or press Browse first.", severity="warning")
            return
        resolved = Path(path) if Path(path).is_absolute() else self.app.project.root / path
        fmt = str(self.query_one("#data-format", Select).value)
        tokenizer = self.query_one("#data-tokenizer", Input).value.strip() or None
        bar = self.query_one("#data-progress", ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self.query_one("#data-status", Label).update(f"Checking {escape(str(resolved))} ...")
        self.run_check(str(resolved) if resolved.exists() else path, fmt, tokenizer,
                       self.app.project.state.config.max_seq_length)

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def run_check(self, path: str, fmt: str, tokenizer: str | None, max_seq_len: int) -> None:
        from core.data import check_dataset
        from core.errors import TunewizError

        try:
            report = check_dataset(path, format=fmt, tokenizer=tokenizer, max_seq_len=max_seq_len,
                                   progress=self._progress)
        except TunewizError as exc:
            self.post_message(DataTaskFailed("check", str(exc)))
            return
        except Exception as exc:  # keep the wizard alive; the message says what broke
            self.post_message(DataTaskFailed("check", f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(CheckFinished(report))

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last_progress >= 0.2 or done >= total:  # coalesce: a few updates a second
            self._last_progress = now
            self.post_message(CheckProgressed(done, total))

    def on_check_progressed(self, message: CheckProgressed) -> None:
        self.query_one("#data-progress", ProgressBar).update(total=max(message.total, 1), progress=message.done)

    def on_check_finished(self, message: CheckFinished) -> None:
        from core.data.project import record_check_in_state
        from core.data.review import ReviewMarks

        report = self.report = message.report
        self.query_one("#data-progress", ProgressBar).display = False
        record_check_in_state(self.app.project.state, report)
        self.app.save_project()
        self._show_report(report)
        self.load_sample(report.path, ReviewMarks(report.path) if Path(report.path).exists() else None)

    def on_data_task_failed(self, message: DataTaskFailed) -> None:
        self.query_one("#data-progress", ProgressBar).display = False
        self.query_one("#data-status", Label).update(f"[b red]{message.what} failed:[/] {escape(message.error)}")
        self.notify(message.error, title=f"{message.what} failed", severity="error", timeout=8)

    def _show_report(self, report) -> None:
        from core.data.render import histogram_text
        from core.data.report import VERDICT_TEXT

        s = report.stats
        head, _, tail = s["quantity"]["verdict"].partition(":")
        quantity = f"{head.replace(' examples', '')}\n{tail.split()[0]}" if tail and head[0].isdigit() else "too few"
        values = {"format": report.format, "examples": f"{report.examples:,}\n{report.valid_examples:,} valid",
                  "quantity": quantity, "errors": f"{report.error_count:,}", "warnings": f"{report.warning_count:,}",
                  "verdict": SHORT_VERDICT[report.verdict]}
        for key, value in values.items():
            self.query_one(f"#card-{key}-value", Static).update(escape(value))
        verdict = self.query_one("#card-verdict", Vertical)
        verdict.set_classes(f"card {VERDICT_CLASS[report.verdict]}")
        self.query_one("#card-errors", Vertical).set_classes("card verdict-bad" if report.error_count else "card verdict-good")
        self.query_one("#data-status", Label).update(f"{escape(Path(report.path).name)}: {VERDICT_TEXT[report.verdict]}. "
                                                     f"{s['quantity']['verdict']}"
                                                     + (f". {s['quantity']['advice']}" if s["quantity"]["advice"] else ""))
        table = self.query_one("#data-issues", DataTable)
        table.clear()
        for n, issue in enumerate(report.errors + report.warnings):
            where = "" if issue.line is None else (f"{Path(issue.file).name}:{issue.line}" if report.with_file else str(issue.line))
            table.add_row(where, issue.severity, issue.code, issue.field, issue.message, key=str(n))
        if not report.errors and not report.warnings:
            table.add_row("", "ok", "", "", f"No problems found in {report.examples:,} examples.", key=NO_PROBLEMS)
        self._issues = report.errors + report.warnings
        t = s["tokens"]
        pe, pr = t["per_example"], t["per_reply"]
        self.query_one("#data-tokens", Static).update(
            f"[b]Tokens[/] ({escape(t['method'])})\n"
            f"per example  p50 {pe['p50']:,}  p90 {pe['p90']:,}  p99 {pe['p99']:,}  max {pe['max']:,}\n"
            f"per reply    p50 {pr['p50']:,}  p90 {pr['p90']:,}  p99 {pr['p99']:,}  max {pr['max']:,}\n"
            f"over max_seq_length {t['max_seq_len']}: {t['over_max']['count']:,} ({t['over_max']['share']:.1%}), "
            f"{t['over_max']['tokens_cut']:,} tokens would be cut\n"
            f"[b]recommended max_seq_length: {t['recommended_max_seq_len']}[/] (covers 99% of examples)")
        self.query_one("#data-histogram", Static).update(escape(histogram_text(report, width=76, height=14)))
        d, sp, rf, op = s["duplicates"], s["system_prompts"], s["reply_format"], s["openings"]
        self.query_one("#data-duplicates", Static).update(
            f"[b]Duplicates[/]  {d['exact']:,} exact, {d['near']:,} near, {s['conflicting_answers']:,} prompts with "
            f"conflicting answers, {s['leakage']:,} train/val leaks\n[dim]{escape(d['method'])}[/]\n\n"
            f"[b]Consistency[/]  system prompt in {sp['share']:.0%} of examples ({sp['distinct']} distinct); "
            f"{rf['json_share']:.0%} of replies are JSON" + (" [yellow](mixed formats)[/]" if rf["inconsistent"] else "")
            + f"; {op['distinct']:,} distinct user openings" + (" [yellow](low diversity)[/]" if op["low_diversity"] else ""))
        sec, pii = s["secrets"], s["personal_data"]
        if sec["count"] or pii["count"]:
            kinds = ", ".join(f"{k} x{v}" for k, v in {**sec["by_kind"], **pii["by_kind"]}.items())
            text = (f"[b red]Secrets and personal data[/]  {sec['count']} secrets, {pii['count']} personal data "
                    f"({escape(kinds)}) on lines {', '.join(map(str, s['sensitive_lines'][:10]))}\n"
                    "A fine-tuned model can repeat these word for word: remove or mask them before training.")
        else:
            text = "[b]Secrets and personal data[/]  none found (API keys, tokens, private keys, emails, phone numbers)"
        self.query_one("#data-secrets", Static).update(text)

    @on(DataTable.RowSelected, "#data-issues")
    def show_issue(self, event: DataTable.RowSelected) -> None:
        from core.data.reader import read_raw_line

        if event.row_key.value == NO_PROBLEMS:
            return
        issue = self._issues[int(event.row_key.value)]
        raw = ""
        if issue.line is not None and issue.file and Path(issue.file).suffix.lower() in (".jsonl", ".json", ".csv"):
            raw = read_raw_line(issue.file, issue.line)
        self.app.push_screen(IssueDetailScreen(issue, raw))

    # --- review -------------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="sample")
    def load_sample(self, path: str, marks) -> None:
        from core.data.review import load_review_sample

        try:
            items = load_review_sample(path, size=100, seed=42)
        except Exception as exc:
            self.post_message(DataTaskFailed("loading the review sample", str(exc)))
            return
        self.post_message(SampleLoaded(items, marks))

    def on_sample_loaded(self, message: SampleLoaded) -> None:
        self.query_one(ReviewPanel).load(message.items, message.marks)

    def on_example_marked(self, message: ExampleMarked) -> None:
        from core.data.project import record_review_in_state

        panel = message.panel
        if self.report is None or panel.marks is None:
            return
        was = self.app.project.state.is_ticked("data_reviewed")
        record_review_in_state(self.app.project.state, panel.marks, self.report.valid_examples)
        self.app.save_project()
        if not was and self.app.project.state.is_ticked("data_reviewed"):
            self.notify("Sample reviewed: 'Data quality verified' is ticked.")

    def on_note_requested(self, message: NoteRequested) -> None:
        panel = message.panel
        entry = panel.marks.get(panel.current.line, panel.current.file) if panel.marks else None

        def done(note: str | None) -> None:
            if note is not None:
                panel.set_note(note)

        self.app.push_screen(TextPromptScreen("Note for this example:", (entry or {}).get("note", "")), done)

    def on_jump_requested(self, message: JumpRequested) -> None:
        def done(value: str | None) -> None:
            if value and value.strip().isdigit() and self.report is not None:
                self.load_line(self.report.path, int(value))
            elif value:
                self.notify("Type a line number.", severity="warning")

        self.app.push_screen(TextPromptScreen("Jump to line:", placeholder="e.g. 120"), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="jump")
    def load_line(self, path: str, line: int) -> None:
        from core.data.review import load_example

        try:
            self.post_message(ExampleLoaded(load_example(path, line), line))
        except Exception as exc:
            self.post_message(DataTaskFailed("jump", str(exc)))

    def on_example_loaded(self, message: ExampleLoaded) -> None:
        if message.item is None or not message.item.turns:
            self.notify(f"No readable example starts on line {message.line}.", severity="warning")
            return
        self.query_one(ReviewPanel).show_item(message.item)

    # --- split --------------------------------------------------------------------------------------------
    @on(Button.Pressed, "#data-split")
    def start_split(self) -> None:
        if self.report is None:
            self.notify("Check the dataset first.", severity="warning")
            return
        try:
            val = float(self.query_one("#split-val", Input).value)
            seed = int(self.query_one("#split-seed", Input).value)
        except ValueError:
            self.notify("The validation share must be a number like 0.1 and the seed a whole number.", severity="error")
            return
        exclude = self.query_one("#split-exclude-bad", Checkbox).value
        self.query_one("#split-result", Static).update("Splitting ...")
        self.run_split(self.report.path, val, seed, exclude, str(self.app.project.root))

    @work(thread=True, exclusive=True, exit_on_error=False, group="split")
    def run_split(self, path: str, val: float, seed: int, exclude: bool, out: str) -> None:
        from core.data.split import split_dataset

        try:
            result = split_dataset(path, val=val, seed=seed, out=out, exclude_reviewed_bad=exclude)
        except Exception as exc:
            self.post_message(DataTaskFailed("split", str(exc)))
            return
        self.post_message(SplitFinished(result))

    def on_split_finished(self, message: SplitFinished) -> None:
        from core.data.project import record_split_in_state

        r = message.result
        record_split_in_state(self.app.project.state, r)
        self.app.save_project()
        d = r.dropped
        self.query_one("#split-result", Static).update(
            f"[b green]Wrote[/] {r.train_examples:,} train → {escape(str(r.train_file))}\n"
            f"      {r.val_examples:,} val   → {escape(str(r.val_file))}\n"
            f"Left out: {d['errors']} with errors, {d['duplicates']} duplicates, {d['reviewed_bad']} marked bad.")
