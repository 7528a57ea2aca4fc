"""The out-of-memory prompt: the engine's recovery options ranked by predicted peak against the card,
each with what it costs; picked by keyboard (arrows + Enter, or its number). Dismisses with the
option id, or None to decide later (the run keeps waiting)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.events import as_float
from core.watch import describe_changes, ranked_options
from tui.widgets.gpu_panel import memory_bar


def option_prompt(n: int, option: dict, card_gb: float | None) -> Text:
    predicted = as_float(option.get("predicted_gb"))
    text = Text()
    text.append(f"{n}. ", style="bold")
    text.append(str(option.get("label") or option.get("id")), style="bold")
    changes = describe_changes(option.get("changes"))
    if changes:
        text.append(f"\n   {changes}", style="dim")
    text.append("\n   ")
    if predicted is not None and card_gb:
        text.append_text(memory_bar(predicted, card_gb, None, 16))
        text.append(f" {predicted:.1f} of {card_gb:.1f} GB ")
    elif predicted is not None:
        text.append(f"predicted {predicted:.1f} GB ")
    fits = option.get("fits")
    if fits is True:
        text.append("fits", style="bold green")
    elif fits is False:
        text.append("still too big", style="bold red")
    if option.get("cost"):
        text.append(f"  · cost: {option['cost']}", style="yellow")
    return text


class OomScreen(ModalScreen[str | None]):
    CSS_PATH = "../styles/train.tcss"
    BINDINGS = [Binding("escape", "later", "Decide later")] + [
        Binding(str(i), f"pick({i})", show=False) for i in range(1, 10)
    ]

    def __init__(self, oom: dict, *, card_gb: float | None, run_id: str):
        super().__init__()
        self.oom = oom
        self.card_gb = card_gb
        self.run_id = run_id
        self.options = ranked_options(oom, card_gb)

    AUTO_FOCUS = "#oom-options"

    def compose(self) -> ComposeResult:
        oom = self.oom
        with Vertical(id="oom-box"):
            yield Static(f"Out of memory at step {oom.get('step', '?')} ({oom.get('where', 'train')})", id="oom-title")
            facts = [f"micro-batch {oom.get('batch_size', '?')}", f"max_seq_length {oom.get('max_seq_length', '?')}"]
            for key, label in (("estimate_gb", "estimate"), ("peak_gb", "measured peak")):
                value = as_float(oom.get(key))
                if value is not None:
                    facts.append(f"{label} {value:.1f} GB")
            if self.card_gb:
                facts.append(f"card {self.card_gb:.1f} GB")
            yield Static(" · ".join(facts) + "\nThe last checkpoint is kept; the chosen fix resumes from it with the same "
                         "effective batch.", id="oom-facts")
            if self.options:
                yield OptionList(*[Option(option_prompt(i, o, self.card_gb), id=str(o.get("id")))
                                   for i, o in enumerate(self.options, 1)], id="oom-options")
            else:
                yield Static("The engine listed no recovery options: stop the run (x) and change the plan.", id="oom-none")
            yield Static("↑↓ move · Enter apply · 1-9 pick · Esc decide later (the run keeps waiting)", id="oom-keys")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, n: int) -> None:
        if 1 <= n <= len(self.options):
            self.dismiss(str(self.options[n - 1].get("id")))

    def action_later(self) -> None:
        self.dismiss(None)
