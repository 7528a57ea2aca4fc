"""Datasets: loading (streamed), format detection and normalization to canonical conversations,
validation with line numbers, quality statistics, manual review marks, split and clean.

Public API: `check_dataset` -> `CheckReport`, `split_dataset` -> `SplitResult`, `plan_clean`/`apply_clean`,
`ReviewMarks`, `iter_examples`. Nothing here imports textual; transformers is imported only when a
tokenizer is passed."""

from core.data.check import check_dataset, iter_examples
from core.data.codes import CODES, Issue
from core.data.report import CheckReport

__all__ = ["CODES", "CheckReport", "Issue", "check_dataset", "iter_examples"]
