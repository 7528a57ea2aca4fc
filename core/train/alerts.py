"""Health alerts from the guide's Common Issues and Overfitting Signs, computed from the stream of
step and eval numbers. Pure Python (no torch) so it is cheap and testable on recorded series.

Kinds (the `alert` event's `kind`):
- nan_loss: the loss is NaN or infinite. The run stops, keeping the last good checkpoint.
- loss_spike: a loss well above the recent median (learning rate too high).
- grad_explosion: a gradient norm far above the recent median, or not finite.
- flat_loss: after warmup, the loss has not fallen over a window of steps (learning rate too low or a
  data problem).
- overfitting: validation loss rose for `overfit_patience` evaluations in a row while training loss
  fell (suggest stopping or fewer epochs; with `early_stop` the run stops).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HealthMonitor:
    """Feed it `observe_step` / `observe_eval`; each returns the alerts (dicts with kind, step,
    message, advice) that fired. `stop_reason` is set when the run should stop (NaN loss, or
    overfitting with `early_stop`)."""

    warmup_steps: int = 0
    total_steps: int | None = None
    early_stop: bool = False
    spike_factor: float = 1.5
    spike_min_delta: float = 0.5
    grad_factor: float = 10.0
    flat_min_drop: float = 0.01
    overfit_patience: int = 3
    cooldown: int = 10
    losses: list[tuple[int, float]] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    evals: list[tuple[int, float, float | None]] = field(default_factory=list)
    stop_reason: str | None = None
    _last_fired: dict[str, int] = field(default_factory=dict)
    _once: set[str] = field(default_factory=set)

    @property
    def flat_window(self) -> int:
        total = self.total_steps or 100
        return max(10, min(50, total // 5))

    def _alert(self, kind: str, step: int, message: str, advice: str) -> dict[str, Any]:
        self._last_fired[kind] = step
        return {"kind": kind, "step": step, "message": message, "advice": advice}

    def _cooling(self, kind: str, step: int) -> bool:
        last = self._last_fired.get(kind)
        return last is not None and step - last < self.cooldown

    def observe_step(self, step: int, loss: float | None, grad_norm: float | None = None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if loss is not None and not math.isfinite(loss):
            if "nan_loss" not in self._once:
                self._once.add("nan_loss")
                self.stop_reason = "nan_loss"
                out.append(self._alert(
                    "nan_loss", step, f"the loss became {loss} at step {step}",
                    "stopping and keeping the last good checkpoint; lower the learning rate (e.g. halve it), "
                    "check the data for empty or broken examples, and prefer bf16 over fp16",
                ))
            return out
        if grad_norm is not None:
            out += self._check_grad(step, grad_norm)
        if loss is None:
            return out
        recent = [v for _, v in self.losses[-10:]]
        if len(recent) >= 3 and not self._cooling("loss_spike", step):
            ref = statistics.median(recent)
            if loss > ref * self.spike_factor and loss - ref > self.spike_min_delta:
                out.append(self._alert(
                    "loss_spike", step, f"loss jumped to {loss:.3g} at step {step} (recent median {ref:.3g})",
                    "the learning rate is probably too high: lower it (e.g. by 2-10x) or add warmup steps",
                ))
        self.losses.append((step, loss))
        out += self._check_flat(step)
        return out

    def _check_grad(self, step: int, grad_norm: float) -> list[dict[str, Any]]:
        out = []
        history = self.grad_norms[-20:]
        if not self._cooling("grad_explosion", step):
            if not math.isfinite(grad_norm):
                out.append(self._alert(
                    "grad_explosion", step, f"the gradient norm is {grad_norm} at step {step}",
                    "lower the learning rate and keep gradient clipping on (max_grad_norm 1.0)",
                ))
            elif len(history) >= 5:
                ref = statistics.median(history)
                if ref > 0 and grad_norm > ref * self.grad_factor:
                    out.append(self._alert(
                        "grad_explosion", step,
                        f"gradient norm {grad_norm:.3g} at step {step} is {grad_norm / ref:.0f}x the recent median {ref:.3g}",
                        "lower the learning rate or add warmup; check for outlier examples in the data",
                    ))
        if math.isfinite(grad_norm):
            self.grad_norms.append(grad_norm)
        return out

    def _check_flat(self, step: int) -> list[dict[str, Any]]:
        if "flat_loss" in self._once:
            return []
        window = self.flat_window
        after_warmup = [v for s, v in self.losses if s > self.warmup_steps]
        if len(after_warmup) < 2 * window or len(after_warmup) % window:
            return []
        first = statistics.fmean(after_warmup[:window])
        last = statistics.fmean(after_warmup[-window:])
        if first <= 0 or (first - last) / first >= self.flat_min_drop:
            return []
        self._once.add("flat_loss")
        return [self._alert(
            "flat_loss", step,
            f"the loss has not fallen over {len(after_warmup)} steps ({first:.3g} -> {last:.3g})",
            "the learning rate may be too low (typical 1e-5 to 2e-4 for LoRA, up to 2e-4 for QLoRA) or the "
            "data has a problem: check that assistant tokens are trained and examples are not empty",
        )]

    def observe_eval(self, step: int, eval_loss: float | None) -> list[dict[str, Any]]:
        if eval_loss is None or not math.isfinite(eval_loss):
            return []
        train_now = statistics.fmean([v for _, v in self.losses[-5:]]) if self.losses else None
        self.evals.append((step, eval_loss, train_now))
        n = self.overfit_patience
        if len(self.evals) < n + 1 or self._cooling("overfitting", step):
            return []
        window = self.evals[-(n + 1):]
        rising = all(b[1] > a[1] for a, b in zip(window, window[1:]))
        train_then, train_last = window[0][2], window[-1][2]
        train_falling = train_then is not None and train_last is not None and train_last < train_then
        if not (rising and train_falling):
            return []
        best = min(e[1] for e in self.evals)
        best_step = next(s for s, v, _ in self.evals if v == best)
        if self.early_stop:
            self.stop_reason = "overfitting"
        self._last_fired["overfitting"] = step
        self.cooldown = max(self.cooldown, step - window[0][0])
        return [self._alert(
            "overfitting", step,
            f"validation loss rose for {n} evaluations ({window[0][1]:.3g} -> {eval_loss:.3g}) while training "
            f"loss fell ({train_then:.3g} -> {train_last:.3g}); best was {best:.3g} at step {best_step}",
            ("early stop is on: stopping now; " if self.early_stop else "consider stopping (the checkpoint near step "
             f"{best_step} is the best) or ") + "train fewer epochs, lower the learning rate, add more data "
            "or raise lora_dropout",
        )]
