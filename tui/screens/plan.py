"""The Plan step: the GPU, a models x methods table coloured by verdict, the memory breakdown of the
highlighted cell, knobs that re-estimate live, and what fits instead. Enter picks a cell."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Label, Select, Static

from tui.screens.base import StepScreen

METHOD_COLUMNS = ("full", "lora", "qlora")
VERDICT_STYLE = {"comfortable": "bold green", "tight": "bold yellow", "does not fit": "bold red"}
SEGMENT_STYLE = {"weights_gb": "blue", "trainable_gb": "cyan", "gradients_gb": "magenta", "optimizer_gb": "yellow",
                 "activations_gb": "green", "logits_gb": "red", "overhead_gb": "grey50"}
CARD_CHOICES = [("auto (detected, else RTX 3090)", "auto"), ("RTX 3060 12 GB", "3060"), ("RTX 3090 24 GB", "3090"),
                ("RTX 4090 24 GB", "4090"), ("A10G 24 GB", "a10g"), ("L4 24 GB", "l4"), ("RTX A6000 48 GB", "a6000"),
                ("L40S 48 GB", "l40s"), ("A100 40 GB", "a100-40"), ("A100 80 GB", "a100-80"), ("H100 80 GB", "h100"),
                ("H200 141 GB", "h200"), ("16 GB", "16GB"), ("32 GB", "32GB")]


def _opts(values) -> list[tuple[str, object]]:
    return [(str(v), v) for v in values]


class PlanComputed(Message):
    """The worker finished estimating the table for the current knobs."""

    def __init__(self, card: dict, rows: list, gpu_report: dict | None) -> None:
        super().__init__()
        self.card = card
        self.rows = rows
        self.gpu_report = gpu_report


class PlanFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


def breakdown_bar(estimate, width: int = 44) -> Text:
    """A stacked bar of the breakdown against the card (one character = card / width), with a legend."""
    card = estimate.gpu_total_gb or estimate.total_gb
    scale = width / max(card, estimate.total_gb)
    bar = Text()
    used = 0
    for key, value in estimate.breakdown.items():
        n = int(round(value * scale))
        if n:
            bar.append("█" * n, style=SEGMENT_STYLE[key])
            used += n
    card_cols = int(round(card * scale))
    if used < card_cols:
        bar.append("░" * (card_cols - used), style="grey35")
    bar.append(f"  {estimate.total_gb:.1f} / {card:.0f} GB  ", style="bold")
    bar.append(estimate.verdict, style=VERDICT_STYLE.get(estimate.verdict, ""))
    bar.append("\n")
    for key, value in estimate.breakdown.items():
        bar.append("■ ", style=SEGMENT_STYLE[key])
        bar.append(f"{key[:-3]} {value:.1f}  ")
    return bar


class PlanScreen(StepScreen):
    step_id = "plan"
    CSS_PATH = "../styles/plan.tcss"
    BINDINGS = [Binding("u", "use_selected", "Use this model"),
                Binding("h", "hosted", "Hosted API instead")]

    def action_hosted(self) -> None:
        """No card big enough? Fine-tune through OpenAI or Together instead (a detour from the main path)."""
        self.app.goto("hosted")
    HELP = """
# Plan: what fits your GPU

The table estimates **peak training memory per GPU** for each model and method with the knobs above it
(batch, sequence length, LoRA rank and targets, checkpointing, optimizer, backend). Colours:
**green** below 85% of the card, **yellow** 85-100% (tight: may OOM on long batches), **red** does not fit.

- Move with the arrow keys; the bar below shows where the memory goes for the highlighted cell.
- **Enter** or **u** picks the highlighted model and method: it is written to the training config.
- **h**: no card big enough? Fine-tune through the OpenAI or Together API instead (the Hosted step).
- *Logits* grow with vocabulary x tokens: for 128k-256k vocabularies they dominate long sequences.
- Numbers are estimates (GB = 1e9 bytes), checked against published measurements: see the README.
"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._card: dict | None = None
        self._rows: dict[tuple[int, str], object] = {}
        self._models: list[str] = []
        self._placed = False

    def compose_body(self) -> ComposeResult:
        cfg = self.app.project.state.config
        seq = self._default_seq()
        yield Static("Plan: pick a model and method that fit your GPU", classes="step-title")
        yield Static("Detecting GPUs…", id="gpu-panel")
        with Grid(id="plan-knobs"):
            yield self._knob("Card", Select(CARD_CHOICES, value=self._default_card(), allow_blank=False, compact=True, id="knob-card"))
            yield self._knob("Batch", Select(_opts([1, 2, 4, 8, 16]), value=cfg.batch_size if cfg.batch_size in (1, 2, 4, 8, 16) else 2, allow_blank=False, compact=True, id="knob-batch"))
            seqs = sorted({256, 512, 1024, 2048, 4096, 8192, 16384, seq, cfg.max_seq_length})  # the config's own value stays choosable
            yield self._knob("Seq", Select(_opts(seqs), value=seq, allow_blank=False, compact=True, id="knob-seq"))
            yield self._knob("Rank", Select(_opts([8, 16, 32, 64]), value=cfg.lora_r if cfg.lora_r in (8, 16, 32, 64) else 16, allow_blank=False, compact=True, id="knob-rank"))
            yield self._knob("Targets", Select(_opts(["all", "attn"]), value=cfg.targets, allow_blank=False, compact=True, id="knob-targets"))
            yield self._knob("Checkpointing", Select(_opts(["unsloth", "hf", "none"]), value=cfg.grad_checkpointing, allow_blank=False, compact=True, id="knob-ckpt"))
            yield self._knob("Optimizer", Select(_opts(["adamw_8bit", "adamw_torch", "paged_adamw_8bit", "paged_adamw_32bit", "sgd"]), value=cfg.optimizer, allow_blank=False, compact=True, id="knob-opt"))
            yield self._knob("Backend", Select(_opts(["unsloth", "hf"]), value=cfg.backend if cfg.backend != "auto" else "unsloth", allow_blank=False, compact=True, id="knob-backend"))
        table = DataTable(id="plan-table", cursor_type="cell", zebra_stripes=True)
        yield table
        yield Static("", id="plan-bar")
        with Horizontal(id="plan-bottom"):
            yield Static("", id="plan-fits")
            yield Button("Use this model", id="plan-use", variant="primary")

    def _knob(self, label: str, widget) -> Vertical:
        return Vertical(Label(label, classes="knob-label"), widget, classes="knob")

    def _default_card(self) -> str:
        card = self.app.project.state.plan.get("card_spec") or self.app.project.state.config.gpu or "auto"
        return card if card in {v for _, v in CARD_CHOICES} else "auto"

    def _default_seq(self) -> int:
        rec = self.app.project.state.data.get("recommended_max_seq_length")
        if isinstance(rec, (int, float)) and rec > 0:
            return int(rec)
        return self.app.project.state.config.max_seq_length

    def on_mount(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        table.add_columns("Model", "Params", "Full (16-bit)", "LoRA (16-bit)", "QLoRA (4-bit)")
        self.recompute()

    # --- knobs -> worker -> table --------------------------------------------------------------
    def _knobs(self) -> dict:
        def val(wid):
            return self.query_one(wid, Select).value

        return {"card": val("#knob-card"), "batch": val("#knob-batch"), "seq": val("#knob-seq"), "rank": val("#knob-rank"),
                "targets": val("#knob-targets"), "ckpt": val("#knob-ckpt"), "opt": val("#knob-opt"), "backend": val("#knob-backend")}

    @on(Select.Changed)
    def _knob_changed(self, _event: Select.Changed) -> None:
        if self.is_mounted:
            self.recompute()

    def recompute(self) -> None:
        self.estimate_table(self._knobs())

    @work(thread=True, exclusive=True, exit_on_error=False)
    def estimate_table(self, knobs: dict) -> None:
        from core.catalog import PICKER_MODELS
        from core.hardware import detect_gpus, resolve_gpu
        from core.planner import plan_table
        from core.vram import Setup

        try:
            report = detect_gpus() if knobs["card"] == "auto" else None
            card = resolve_gpu(knobs["card"], report=report)
            base = Setup(batch_size=knobs["batch"], seq_len=knobs["seq"], lora_r=knobs["rank"], targets=knobs["targets"],
                         grad_checkpointing=knobs["ckpt"], optimizer=knobs["opt"], backend=knobs["backend"])
            models = list(PICKER_MODELS)
            chosen = self.app.project.state.config.base_model
            from core.catalog import catalog_lookup

            arch = catalog_lookup(chosen)
            if arch is None or arch.id not in models:
                try:
                    from core.catalog import resolve_arch

                    resolve_arch(chosen, allow_download=False)
                    models.insert(0, chosen)
                except Exception:
                    pass
            rows = plan_table(card, base, models=models)
            self.post_message(PlanComputed(card, rows, report.to_json() if report else None))
        except Exception as exc:  # shown in the panel, never a crash
            self.post_message(PlanFailed(str(exc)))

    def on_plan_failed(self, message: PlanFailed) -> None:
        self.query_one("#gpu-panel", Static).update(Text(f"Cannot plan: {message.error}", style="bold red"))

    def on_plan_computed(self, message: PlanComputed) -> None:
        self._card = message.card
        self._show_gpu(message.card, message.gpu_report)
        table = self.query_one("#plan-table", DataTable)
        cursor = table.cursor_coordinate
        table.clear()
        self._rows.clear()
        self._models = []
        by_model: dict[str, dict[str, object]] = {}
        for row in message.rows:
            by_model.setdefault(row.arch.id, {})[row.estimate.setup.method] = row
        for i, (model, cells) in enumerate(by_model.items()):
            self._models.append(model)
            arch = next(iter(cells.values())).arch
            rendered = []
            for method in METHOD_COLUMNS:
                row = cells[method]
                self._rows[(i, method)] = row
                est = row.estimate
                mark = {"comfortable": "✓", "tight": "!", "does not fit": "✗"}.get(est.verdict, "?")
                rendered.append(Text(f"{est.total_gb:6.1f} GB {mark}", style=VERDICT_STYLE.get(est.verdict, "")))
            table.add_row(Text(model.split("/")[-1]), _params_label(arch.params_b), *rendered, key=model)
        if not self._placed:  # first table: highlight the configured model and method, not an arbitrary cell
            self._placed = True
            table.cursor_coordinate = self._configured_cell()
        elif cursor.row < table.row_count:
            table.cursor_coordinate = cursor
        else:
            table.cursor_coordinate = (0, 4)
        if table.cursor_coordinate.column < 2:
            table.cursor_coordinate = (table.cursor_coordinate.row, 4)
        self._show_selected()

    def _configured_cell(self) -> tuple[int, int]:
        """(row, column) of the config's base model and method in the table; QLoRA on the first row if absent."""
        cfg = self.app.project.state.config
        column = 2 + METHOD_COLUMNS.index(cfg.method) if cfg.method in METHOD_COLUMNS else 4
        for i, model in enumerate(self._models):
            if model == cfg.base_model or _same_arch(cfg.base_model, self._rows[(i, METHOD_COLUMNS[0])].arch):
                return i, column
        return 0, column

    def _show_gpu(self, card: dict, report: dict | None) -> None:
        text = Text()
        if report and report.get("found"):
            gpus = ", ".join(f"{g['name']} ({g['total_gb']:.0f} GB, {g['free_gb']:.0f} free)" for g in report["gpus"])
            text.append(f"GPU: {gpus}; driver {report.get('driver')}\n", style="bold")
        elif report is not None:
            text.append(f"No GPU detected: {report.get('error')}.\n", style="yellow")
        text.append(f"Planning for: {card['name']}, {card['memory_gb']:.0f} GB ({card.get('source')})", style="bold")
        self.query_one("#gpu-panel", Static).update(text)

    # --- selection -------------------------------------------------------------------------------
    def _selected(self):
        table = self.query_one("#plan-table", DataTable)
        coord = table.cursor_coordinate
        if not self._models or coord.row >= len(self._models):
            return None
        method = METHOD_COLUMNS[max(coord.column, 2) - 2]
        return self._rows.get((coord.row, method))

    @on(DataTable.CellHighlighted)
    def _highlighted(self, _event) -> None:
        self._show_selected()

    @on(DataTable.CellSelected)
    def _selected_cell(self, _event) -> None:
        self.action_use_selected()

    @on(Button.Pressed, "#plan-use")
    def _use_pressed(self) -> None:
        self.action_use_selected()

    def _show_selected(self) -> None:
        row = self._selected()
        if row is None:
            return
        est = row.estimate
        head = Text(f"{row.arch.id} · {est.setup.method} ({est.setup.bits}-bit) · batch {est.setup.batch_size} x "
                    f"{est.setup.seq_len} tokens\n", style="bold")
        self.query_one("#plan-bar", Static).update(head + breakdown_bar(est))
        self.query_one("#plan-fits", Static).update(self._what_fits(row))

    def _what_fits(self, row) -> Text:
        from core.planner import starting_point

        est = row.estimate
        text = Text("What fits\n", style="bold")
        if row.max_batch:
            text.append(f"• largest batch at {est.setup.seq_len} tokens: {row.max_batch}\n")
        if row.max_seq:
            text.append(f"• longest sequence at batch 1: {row.max_seq:,} tokens\n")
        if est.verdict != "comfortable" and self._card:
            sp = starting_point(row.arch, est.setup, self._card)
            if sp.adjustments and sp.fits:
                text.append(f"• fits with: {'; '.join(sp.adjustments)} → {sp.estimate.total_gb:.1f} GB\n", style="green")
            idx = self._models.index(row.arch.id) if row.arch.id in self._models else -1
            for method in METHOD_COLUMNS:
                other = self._rows.get((idx, method))
                if other is not None and method != est.setup.method and other.estimate.verdict == "comfortable":
                    text.append(f"• {method} fits comfortably: {other.estimate.total_gb:.1f} GB\n", style="green")
            if not row.max_batch:
                text.append("• or pick a smaller model (green cells)\n")
        for note in est.notes[:2]:
            text.append(f"• {note}\n", style="grey62")
        return text

    def action_use_selected(self) -> None:
        row = self._selected()
        if row is None or self._card is None:
            return
        est = row.estimate
        state = self.app.project.state
        s = est.setup
        model = row.arch.id
        current = state.config.base_model
        if row.arch.id != current and _same_arch(current, row.arch):
            model = current  # keep the exact id the person chose (an unsloth -bnb-4bit upload, say)
        grad_accum = state.config.grad_accum
        state.config = state.config.model_copy(update={
            "base_model": model, "method": s.method, "bits": s.bits, "batch_size": s.batch_size,
            "grad_accum": grad_accum, "max_seq_length": s.seq_len, "lora_r": s.lora_r, "targets": s.targets,
            "optimizer": s.optimizer, "grad_checkpointing": s.grad_checkpointing, "backend": s.backend,
            "gpu": self._knobs()["card"] if self._knobs()["card"] != "auto" else state.config.gpu,
        })
        state.config = type(state.config).model_validate(state.config.model_dump())
        state.plan = {"card": self._card, "card_spec": self._knobs()["card"], "estimate": est.to_json(),
                      "max_batch": row.max_batch, "max_seq": row.max_seq}
        shown = _model_label(model)
        self.app.tick("model_selected", f"{shown} ({s.method})")
        if est.verdict != "does not fit":
            self.app.tick("vram_calculated", f"{est.total_gb:.1f} GB of {self._card['memory_gb']:.0f} GB: {est.verdict}")
        else:
            self.app.tick("vram_calculated", f"{est.total_gb:.1f} GB does not fit {self._card['memory_gb']:.0f} GB", done=False)
        self.notify(f"Using {shown} with {s.method}: {est.total_gb:.1f} GB, {est.verdict}",
                    severity="information" if est.verdict != "does not fit" else "warning")


def _params_label(params_b: float) -> str:
    """1.7B, or 135M below a billion (a small model is not "0.1B" or "0.0B")."""
    return f"{params_b:.1f}B" if params_b >= 1 else f"{params_b * 1000:.0f}M"


def _model_label(model: str) -> str:
    """A local model folder by its name (the checklist note is narrow); a hub id as it is."""
    from pathlib import Path

    return Path(model).name if Path(model).expanduser().is_dir() else model


def _same_arch(model_id: str, arch) -> bool:
    from core.catalog import catalog_lookup

    found = catalog_lookup(model_id)
    return found is not None and found.id == arch.id
