"""The loss chart: training and validation loss against step (plotext), linear or log, all steps or
the last N."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from core.watch import chart_series

ZOOMS: tuple[int | None, ...] = (None, 1000, 200, 50)


class LossChart(PlotextPlot):
    """Attributes down: the monitor sets the points with `show`; `log_scale` and `zoom` are toggled by keys."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.log_scale = False
        self.zoom: int | None = None
        self.ended = False
        self._train: list[tuple[int, float]] = []
        self._eval: list[tuple[int, float]] = []

    def show(self, train: list[tuple[int, float]], evals: list[tuple[int, float]]) -> None:
        self._train, self._eval = train, evals
        self._draw()

    def toggle_scale(self) -> None:
        self.log_scale = not self.log_scale
        self._draw()

    def cycle_zoom(self) -> None:
        self.zoom = ZOOMS[(ZOOMS.index(self.zoom) + 1) % len(ZOOMS)]
        self._draw()

    @property
    def caption(self) -> str:
        scale = "log" if self.log_scale else "linear"
        span = "all steps" if self.zoom is None else f"last {self.zoom} steps"
        return f"Loss · {scale} · {span}"

    def _draw(self) -> None:
        width = max(20, self.size.width or 60)
        xs, ys = chart_series(self._train, last_steps=self.zoom, log_scale=self.log_scale, max_points=width * 2)
        exs, eys = chart_series(self._eval, last_steps=self.zoom, log_scale=self.log_scale, max_points=width)
        if self.zoom is not None and xs and exs:
            exs, eys = zip(*[(s, v) for s, v in zip(exs, eys) if s >= xs[0]]) if any(s >= xs[0] for s in exs) else ([], [])
        plt = self.plt
        plt.clear_figure()
        plt.yscale("log" if self.log_scale else "linear")
        if xs:
            plt.plot(xs, ys, label="train", marker="braille", color="cyan")
        if exs:
            plt.plot(list(exs), list(eys), label="val", marker="dot", color="orange")
        if not xs and not exs:
            plt.title("no steps were recorded" if self.ended else "waiting for the first step")
        plt.xlabel("step")
        self.border_title = self.caption
        self.refresh()

    def on_resize(self) -> None:
        self._draw()
