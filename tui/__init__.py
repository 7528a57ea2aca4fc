"""The tunewiz face: Textual screens and widgets. Thin: workers call `core` and post messages."""
