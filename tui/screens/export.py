"""The Export step: pick a format (adapter, merged, GGUF) and a GGUF type by keyboard, optionally an
Ollama Modelfile, then export with progress and verification (`core.export.runner.export_run`)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from tui.screens.base import StepScreen

FORMAT_LABELS = {
    "gguf": "GGUF (llama.cpp, Ollama, LM Studio)",
    "merged": "Merged safetensors (vLLM, HF)",
    "adapter": "Adapter only (PEFT, small)",
}
QUANT_LABELS = {
    "q8_0": "q8_0    near-lossless, recommended",
    "f16": "f16     exact, largest",
    "q4_0": "q4_0    smallest written here",
    "q5_k_m": "q5_k_m  k-quant, quality",
    "q4_k_m": "q4_k_m  k-quant, size",
}


class ExportProgressed(Message):
    def __init__(self, stage: str, done: int, total: int):
        super().__init__()
        self.stage, self.done, self.total = stage, done, total


class ExportFinished(Message):
    def __init__(self, entry: dict):
        super().__init__()
        self.entry = entry


class ExportFailed(Message):
    def __init__(self, error: str):
        super().__init__()
        self.error = error


class ExportScreen(StepScreen):
    step_id = "export"
    CSS_PATH = "../styles/export.tcss"
    HELP = """# Export

Takes the fine-tuned model somewhere useful. Every export is verified: the adapter is reloaded with
PEFT, the merged model and the GGUF file are reloaded and their logits compared with the adapter model.

- **GGUF** is written in Python (f16, q8_0, q4_0), with the tokenizer and chat template inside.
  The k-quants (q4_k_m, q5_k_m) need llama.cpp's `llama-quantize` on the PATH.
- **Ollama**: tick the box to also write a `Modelfile` with the chat template and every stop token
  (without them an Ollama model keeps talking past its answer). Then `ollama create NAME -f Modelfile`.
- Merging happens in 16 bits, never into a 4-bit base.

## Keys
- **↑/↓** choose, **Tab** move between format, type and the Ollama box, **Space** toggles the box
- **x** export

`tunewiz export RUN --format gguf --quant q8_0 --ollama` does the same from a shell;
`tunewiz export-config RUN --axolotl` writes an Axolotl config for multi-GPU training.
"""
    BINDINGS = [Binding("x", "export", "Export")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_dir = None
        self.busy = False

    def compose_body(self) -> ComposeResult:
        yield Static("Export", classes="step-title")
        yield Static("", id="export-run")
        with Horizontal(id="export-choices"):
            with Vertical(classes="export-col"):
                yield Static("Format", classes="export-heading")
                yield OptionList(*[Option(label, id=fmt) for fmt, label in FORMAT_LABELS.items()], id="export-format")
            with Vertical(classes="export-col"):
                yield Static("GGUF type", classes="export-heading")
                yield OptionList(id="export-quant")
                yield Checkbox("Write an Ollama Modelfile", value=True, id="export-ollama")
        yield ProgressBar(id="export-progress", show_eta=False)
        yield Static("", id="export-stage", classes="muted")
        yield Static("", id="export-result")
        yield Static("", id="export-history")

    def on_mount(self) -> None:
        from core.evaluate.loading import project_run
        from core.export.runner import available_quants

        quants = self.query_one("#export-quant", OptionList)
        availability = available_quants()
        for quant in QUANT_LABELS:
            why_not = availability[quant]
            label = QUANT_LABELS[quant] + ("" if why_not is None else " (llama.cpp)")
            quants.add_option(Option(label, id=quant, disabled=why_not is not None))
        quants.highlighted = 0
        formats = self.query_one("#export-format", OptionList)
        formats.highlighted = 0
        formats.focus()
        self.query_one("#export-progress").display = False
        self.run_dir = project_run(self.app.project)
        label = self.query_one("#export-run", Static)
        if self.run_dir is None:
            label.update(Text("No finished run yet: train one in the Train step (or `tunewiz train`).", style="yellow"))
        else:
            self.show_history()

    def selected(self) -> tuple[str, str | None, bool]:
        formats = self.query_one("#export-format", OptionList)
        fmt = formats.get_option_at_index(formats.highlighted or 0).id
        quants = self.query_one("#export-quant", OptionList)
        quant = quants.get_option_at_index(quants.highlighted or 0).id if fmt == "gguf" else None
        ollama = self.query_one("#export-ollama", Checkbox).value and fmt != "adapter"
        return fmt, quant, ollama

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "export-format":
            is_gguf = event.option.id == "gguf"
            self.query_one("#export-quant").disabled = not is_gguf
            self.query_one("#export-ollama").disabled = event.option.id == "adapter"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "export-format":
            self.focus_next()

    def action_export(self) -> None:
        if self.run_dir is None:
            self.notify("No run to export yet.", severity="warning")
            return
        if self.busy:
            return
        fmt, quant, ollama = self.selected()
        self.busy = True
        bar = self.query_one("#export-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#export-result", Static).update("")
        self.query_one("#export-stage", Static).update(f"exporting {fmt}{' ' + quant if quant else ''}…")
        self.export(fmt, quant, ollama)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export(self, fmt: str, quant: str | None, ollama: bool) -> None:
        from core.errors import TunewizError
        from core.export.runner import export_run

        try:
            entry = export_run(self.run_dir, fmt, quant=quant, ollama=ollama,
                               progress=lambda s, d, t: self.post_message(ExportProgressed(s, d, t)))
        except TunewizError as exc:
            self.post_message(ExportFailed(str(exc)))
            return
        except Exception as exc:  # keep the wizard alive; the message says what broke
            self.post_message(ExportFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ExportFinished(entry))

    def on_export_progressed(self, message: ExportProgressed) -> None:
        bar = self.query_one("#export-progress", ProgressBar)
        if message.total:
            bar.update(total=message.total, progress=message.done)
        self.query_one("#export-stage", Static).update(f"{message.stage}  {message.done}/{message.total}")

    def on_export_failed(self, message: ExportFailed) -> None:
        self.busy = False
        self.query_one("#export-progress").display = False
        self.query_one("#export-stage", Static).update("")
        self.query_one("#export-result", Static).update(Text(message.error, style="red"))
        self.notify(message.error, title="Export failed", severity="error")

    def on_export_finished(self, message: ExportFinished) -> None:
        self.busy = False
        entry = message.entry
        self.query_one("#export-progress").display = False
        self.query_one("#export-stage", Static).update("")
        text = Text()
        text.append("✓ ", style="bold green")
        text.append(f"{entry['format']}{' ' + entry['quant'] if entry.get('quant') else ''} written to {self.short(entry['path'])}\n")
        verify = entry.get("verify", {})
        if "rel_error" in verify:
            text.append(f"  verified: logits within {verify['rel_error']:.1e} of the reference "
                        f"(tolerance {verify['tolerance']:.0e}), top-1 agreement {verify['top1_agree']:.0%}\n", style="green")
        else:
            text.append("  verified: loads with PeftModel.from_pretrained\n", style="green")
        if entry.get("modelfile"):
            folder = self.short(entry["modelfile"].rsplit("/", 1)[0])
            text.append(f"  Modelfile written; run: cd {folder} && ollama create {self.run_dir.run_id.lower()} -f Modelfile\n")
        self.query_one("#export-result", Static).update(text)
        kind = f"GGUF {entry['quant']}" if entry["format"] == "gguf" else entry["format"]
        self.app.project.state.export.update({"run_id": self.run_dir.run_id, "last": entry["path"], "format": entry["format"]})
        self.app.tick("exported", f"{kind} of {self.run_dir.run_id} verified")
        self.show_history()

    def show_history(self) -> None:
        from core.export.runner import read_exports

        exports = read_exports(self.run_dir)
        hint = "   exported · x for another export" if exports else "   press x to export"
        self.query_one("#export-run", Static).update(Text.assemble(("Run ", "bold"), self.run_dir.run_id, (hint, "dim")))
        if not exports:
            return
        text = Text("Earlier exports of this run\n", style="bold")
        for e in exports[-5:]:
            ok = e.get("verify", {}).get("ok")
            text.append("  ✓ " if ok else "  ? ", style="green" if ok else "yellow")
            text.append(f"{e['format']}{' ' + e['quant'] if e.get('quant') else ''}  {self.short(e['path'])}\n")
        self.query_one("#export-history", Static).update(text)

    def short(self, path: str) -> str:
        """`path` relative to the project folder when it is inside it."""
        import os

        rel = os.path.relpath(path, self.app.project.root)
        return path if rel.startswith("..") else rel
