"""Test-only fault injection: `TUNEWIZ_FAULT_OOM=train:5` raises `torch.OutOfMemoryError` when the
trainer is about to run optimizer step 5; `eval:4` during the first evaluation at or after step 4;
`checkpoint:3` while saving the first checkpoint at or after step 3; `preflight:0` in the preflight
pass. Several specs are comma-separated. `TUNEWIZ_FAULT_DISKFULL=checkpoint:N` raises ENOSPC while
saving a checkpoint. Each spec fires once per run (remembered in state.json across resumes)."""

from __future__ import annotations

import errno
import os
from typing import Callable

OOM_ENV = "TUNEWIZ_FAULT_OOM"
DISKFULL_ENV = "TUNEWIZ_FAULT_DISKFULL"


def parse_specs(text: str | None) -> list[tuple[str, int]]:
    specs = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        where, _, step = part.partition(":")
        try:
            specs.append((where.strip(), int(step or 0)))
        except ValueError:
            continue
    return specs


class FaultPlan:
    """Which injected faults are still to fire. `fired` is shared with the run's state so a resumed
    process does not fire the same fault again; `on_fire` persists it."""

    def __init__(self, fired: list[str] | None = None, on_fire: Callable[[list[str]], None] | None = None):
        self.oom = parse_specs(os.environ.get(OOM_ENV))
        self.disk = parse_specs(os.environ.get(DISKFULL_ENV))
        self.fired = list(fired or [])
        self._on_fire = on_fire

    @property
    def active(self) -> bool:
        return bool(self.oom or self.disk)

    def _due(self, specs: list[tuple[str, int]], kind: str, where: str, step: int) -> str | None:
        for spec_where, spec_step in specs:
            key = f"{kind}:{spec_where}:{spec_step}"
            if spec_where == where and step >= spec_step and key not in self.fired:
                self.fired.append(key)
                if self._on_fire:
                    self._on_fire(self.fired)
                return key
        return None

    def check(self, where: str, step: int) -> None:
        """Raise the injected fault for (`where`, `step`) if one is due."""
        if not self.active:
            return
        if self._due(self.oom, "oom", where, step):
            import torch

            raise torch.OutOfMemoryError(f"CUDA out of memory (injected by {OOM_ENV} at {where} step {step})")
        if self._due(self.disk, "disk", where, step):
            raise OSError(errno.ENOSPC, f"No space left on device (injected by {DISKFULL_ENV})")
