"""Placeholder replaced by the decision guide in the same change set."""
from textual.widgets import Static
from tui.screens.base import StepScreen


class DecideScreen(StepScreen):
    step_id = "decide"

    def compose_body(self):
        yield Static("Decide", classes="step-title")
