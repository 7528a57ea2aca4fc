"""The left sidebar: the wizard's steps (current one marked) and the guide's checklist, where an
item is ticked only when a step verified it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.checklist import CHECKLIST
from tui.steps import DETOURS, step_ids, step_title


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
        number = 0
        for step in step_ids():
            marker = "▶" if step == self.current_step else " "
            style = "bold reverse" if step == self.current_step else ""
            if step in DETOURS:
                text.append(f"{marker}    or {step_title(step)}\n", style=style or "dim")
                continue
            number += 1
            text.append(f"{marker} {number}. {step_title(step)}\n", style=style)
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
