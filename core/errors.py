"""Errors the user can act on. The CLI prints them as one clear message and exits non-zero."""

from __future__ import annotations


class TunewizError(Exception):
    """A problem the user can fix: the message says what and where; `exit_code` is the CLI's status."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(TunewizError):
    """A config or project file has a bad field: the message names the file, the field and the allowed values."""
