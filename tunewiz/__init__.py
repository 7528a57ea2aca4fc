"""tunewiz: a terminal wizard for fine-tuning LLMs. The engine is `core`, the face is `tui`."""

__version__ = "0.1.0"
