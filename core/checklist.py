"""The guide's Checklist. An item is ticked only when the wizard has verified it; the step that
verifies it calls `ProjectState.tick(item_id, note)`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    label: str
    verified_by: str


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("prompting_tried", "Prompting alone tried first", "Decide: you said prompting was tried"),
    ChecklistItem("data_reviewed", "Data quality verified (sample review)", "Data: a sample was reviewed"),
    ChecklistItem("data_formatted", "Data formatted correctly (chat template)", "Data: check passed with no errors"),
    ChecklistItem("split_created", "Train/val split created", "Data: train.jsonl and val.jsonl written"),
    ChecklistItem("model_selected", "Base model selected", "Plan: a model was picked"),
    ChecklistItem("vram_calculated", "VRAM requirements calculated", "Plan: the estimate fits the card"),
    ChecklistItem("no_oom", "Training completed without OOM", "Train: a run finished"),
    ChecklistItem("loss_healthy", "Loss curve looks healthy", "Train: finished with no unresolved alert"),
    ChecklistItem("evaluated", "Evaluated on held-out examples", "Evaluate: eval.json written"),
    ChecklistItem("exported", "Model exported (GGUF or safetensors)", "Export: an export verified"),
)

CHECKLIST_IDS = tuple(item.id for item in CHECKLIST)


def item(item_id: str) -> ChecklistItem:
    for it in CHECKLIST:
        if it.id == item_id:
            return it
    raise KeyError(f"unknown checklist item {item_id!r}; known: {', '.join(CHECKLIST_IDS)}")
