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
    "hosted": ("Hosted", "tui.screens.hosted:HostedScreen"),
    "evaluate": ("Evaluate", "tui.screens.evaluate:EvaluateScreen"),
    "export": ("Export", "tui.screens.export:ExportScreen"),
}


def step_ids() -> list[str]:
    return list(STEP_SCREENS)


def step_title(step: str) -> str:
    return STEP_SCREENS[step][0]


def load_screen_class(step: str):
    module_name, _, class_name = STEP_SCREENS[step][1].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
