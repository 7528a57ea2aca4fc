"""The wizard's steps, in order. Only built steps are listed; an issue that builds a step adds its
line here. Values are "module:Class" so screens are imported only when first shown."""

from __future__ import annotations

import importlib

STEP_SCREENS: dict[str, tuple[str, str]] = {
    # step id: (title, "module:ScreenClass")
    "decide": ("Decide", "tui.screens.decide:DecideScreen"),
    "data": ("Data", "tui.screens.data:DataScreen"),
    "plan": ("Plan", "tui.screens.plan:PlanScreen"),
    "train": ("Train", "tui.screens.train:TrainScreen"),
    "hosted": ("Hosted (API)", "tui.screens.hosted:HostedScreen"),
    "evaluate": ("Evaluate", "tui.screens.evaluate:EvaluateScreen"),
    "export": ("Export", "tui.screens.export:ExportScreen"),
}


# Steps off the main path: (back to, next to). Next/Back walk around them; the command palette and
# the Plan step's `h` key lead in. Hosted fine-tuning is an alternative to training locally.
DETOURS: dict[str, tuple[str, str]] = {
    "hosted": ("plan", "evaluate"),
}


def step_ids() -> list[str]:
    return list(STEP_SCREENS)


def main_path() -> list[str]:
    """The steps Next and Back walk, in order (detours left out)."""
    return [s for s in STEP_SCREENS if s not in DETOURS]


def next_of(step: str) -> str | None:
    if step in DETOURS:
        return DETOURS[step][1] if DETOURS[step][1] in STEP_SCREENS else None
    path = main_path()
    i = path.index(step) if step in path else -1
    return path[i + 1] if i + 1 < len(path) else None


def previous_of(step: str) -> str | None:
    if step in DETOURS:
        return DETOURS[step][0] if DETOURS[step][0] in STEP_SCREENS else None
    path = main_path()
    i = path.index(step) if step in path else 0
    return path[i - 1] if i > 0 else None


def step_title(step: str) -> str:
    return STEP_SCREENS[step][0]


def load_screen_class(step: str):
    module_name, _, class_name = STEP_SCREENS[step][1].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
