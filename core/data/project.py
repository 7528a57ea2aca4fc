"""How the data step records its results in the project file (`project.state.data`), shared by the CLI and
the wizard. Keys: path, format, examples, valid_examples, errors (count), warnings (count), verdict,
recommended_max_seq_length, token_stats (p50/p90/p99/max), token_method; after a split also train_file,
val_file, train_examples, val_examples, split_seed, val_fraction. The Plan step reads
recommended_max_seq_length."""

from __future__ import annotations

from pathlib import Path

REVIEW_TICK_MIN = 20  # marks needed (or every example, if fewer) before "data_reviewed" is ticked


def record_check_in_state(state, report) -> None:
    data = dict(state.data)
    if data.get("path") != report.path:  # a different dataset: older split results no longer apply
        for key in ("train_file", "val_file", "train_examples", "val_examples"):
            data.pop(key, None)
    data.update(report.project_summary())
    state.data = data
    if report.error_count == 0:
        state.tick("data_formatted", f"{Path(report.path).name}: {report.examples} examples, no errors")
    else:
        state.tick("data_formatted", f"{report.error_count} errors in {Path(report.path).name}", done=False)


def record_split_in_state(state, result) -> None:
    data = dict(state.data)
    data.update(result.project_summary())
    state.data = data
    state.tick("split_created", f"{result.train_examples} train / {result.val_examples} val (seed {result.seed})")


def record_review_in_state(state, marks, total_examples: int) -> bool:
    """Tick 'data_reviewed' once enough of the sample is marked; returns whether it is ticked."""
    counts = marks.counts()
    reviewed = counts["good"] + counts["bad"]
    needed = min(REVIEW_TICK_MIN, total_examples)
    data = dict(state.data)
    data["review"] = {"file": str(marks.file), **counts}
    state.data = data
    if reviewed >= needed and reviewed > 0:
        state.tick("data_reviewed", f"{reviewed} examples reviewed: {counts['good']} good, {counts['bad']} bad")
        return True
    return False
