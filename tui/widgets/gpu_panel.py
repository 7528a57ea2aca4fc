"""The device panel: one block per GPU (utilization, memory used of total with the planned estimate
marked on the bar, temperature, power), or the CPU the run uses instead."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from core.events import as_float


def memory_bar(used: float | None, total: float | None, planned: float | None, width: int) -> Text:
    """`███████░░░│░░` : used of total, with `│` where the planned estimate falls."""
    width = max(6, width)
    text = Text()
    if not total:
        return text
    filled = round(width * min(1.0, (used or 0) / total))
    mark = None if planned is None else min(width - 1, round(width * min(1.0, planned / total)))
    ratio = (used or 0) / total
    style = "red" if ratio > 0.95 else "yellow" if ratio > 0.85 else "green"
    for i in range(width):
        if i == mark:
            text.append("│", style="bold magenta")
        elif i < filled:
            text.append("█", style=style)
        else:
            text.append("░", style="dim")
    return text


class GpuPanel(Widget):
    """Renders the last `gpu` sample; re-renders on resize so the bars fit."""

    DEFAULT_CSS = "GpuPanel { height: auto; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sample: dict = {}
        self.device_hint: str | None = None
        self.planned: float | None = None
        self.planned_source = ""
        self.ended = False

    def show(self, sample: dict, *, device_hint: str | None, planned: float | None, planned_source: str,
             ended: bool = False) -> None:
        self.sample, self.device_hint, self.ended = sample, device_hint, ended
        self.planned, self.planned_source = planned, planned_source
        self.refresh(layout=True)

    def render(self) -> Text:
        width = max(20, self.size.width or 40)
        sample = self.sample
        out = Text()
        gpus = sample.get("gpus") or []
        device = sample.get("device") or self.device_hint
        if not sample:
            state = "no telemetry was recorded" if self.ended else "waiting for the first sample"
            out.append(f"device {device or '?'}: {state}", style="dim")
            return out
        if not gpus:
            rss = as_float(sample.get("rss_gb"))
            out.append(f"device {device or 'cpu'}", style="bold")
            out.append(" · no GPU in use\n" if device == "cpu" else "\n", style="dim")
            out.append(f"process memory (RSS) {rss:.1f} GB" if rss is not None else "process memory: not reported")
            return out
        for i, gpu in enumerate(gpus):
            if i:
                out.append("\n")
            util = as_float(gpu.get("util"))
            temp, power = as_float(gpu.get("temp_c")), as_float(gpu.get("power_w"))
            name = str(gpu.get("name") or "GPU").replace("NVIDIA ", "").replace("GeForce ", "")
            out.append(f"GPU{gpu.get('index', i)} {name}", style="bold")
            extras = [f"util {util:.0f}%" if util is not None else None, f"{temp:.0f}°C" if temp is not None else None,
                      f"{power:.0f}W" if power is not None else None]
            out.append(" · " + " · ".join(e for e in extras if e) + "\n")
            used, total = as_float(gpu.get("mem_used_gb")), as_float(gpu.get("mem_total_gb"))
            label = f" {used or 0:.1f}/{total or 0:.1f}G"
            out.append_text(memory_bar(used, total, self.planned, width - len(label)))
            out.append(label)
        peak, reserved = as_float(sample.get("peak_allocated_gb")), as_float(sample.get("peak_reserved_gb"))
        if peak is not None:
            out.append(f"\npeak {peak:.1f}G" + (f" · reserved {reserved:.1f}G" if reserved is not None else ""), style="dim")
        if self.planned is not None:
            out.append("\n│", style="bold magenta")
            out.append(f" plan {self.planned:.1f}G ({self.planned_source})", style="dim")
        return out
