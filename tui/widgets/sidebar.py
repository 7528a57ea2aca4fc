"""The left sidebar: the wizard's steps (current one marked) and the guide's checklist, where an
item is ticked only when a step verified it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.checklist import CHECKLIST
from tui.steps import step_ids, step_title


class Sidebar(Static):
    def __init__(self, current_step: str, **kwargs):
        super().__init__(**kwargs)
        self.current_step = current_step

    def on_mount(self) -> None:
        self.refresh_content()

    def refresh_content(self) -> None:
        state = self.app.project.state
        text = Text()
        text.append("Steps\n", style="bold")
        for i, step in enumerate(step_ids(), 1):
            marker = "▶" if step == self.current_step else " "
            style = "bold reverse" if step == self.current_step else ""
            text.append(f"{marker} {i}. {step_title(step)}\n", style=style)
        text.append(f"\nChecklist {state.ticked_count()}/{len(CHECKLIST)}\n", style="bold")
        for item in CHECKLIST:
            mark = state.checklist.get(item.id)
            done = bool(mark and mark.done)
            box = "[x]" if done else "[ ]"
            text.append(f"{box} ", style="green" if done else "dim")
            text.append(item.label + "\n", style="" if done else "dim")
            if mark and mark.note:
                text.append(f"    {mark.note}\n", style="italic dim")
        self.update(text)
