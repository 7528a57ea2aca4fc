"""`tunewiz demo`: the whole job on a real small model on a CPU. The project gets the support-ticket
sample data (core.sample_data), the bundled SmolLM2-135M-Instruct (core.models) and CPU-sized settings;
the headless pipeline then checks the data, splits it, plans, trains through the real detached engine,
evaluates base against tuned on held-out tickets, and exports a q8_0 GGUF with an Ollama Modelfile.
Every stage is the same core API the wizard and the CLI use."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from core.config import TrainConfig
from core.errors import TunewizError
from core.project import Project

Echo = Callable[[str], None]

DEMO_MAX_STEPS = 40
DEMO_EVAL_N = 20
# A narrow triage task where the answer is a fixed JSON schema: fine-tuning is the guide's advice.
DEMO_ANSWERS = {
    "prompting_tried": "yes", "few_shot_works": "no", "labeled_examples": "500_2000", "task_scope": "narrow",
    "data_changes_often": "no", "need_consistent_format": "yes", "need_cheaper_inference": "yes",
    "domain_terminology": "no", "need_grounding": "no", "domain_text_tokens": "no",
}


def demo_config(model_path: str, max_steps: int = DEMO_MAX_STEPS) -> TrainConfig:
    """CPU-sized LoRA settings: sequence 256, batch 2, a few dozen steps, a learning rate high enough
    to move a 135M model in that few steps."""
    return TrainConfig(
        base_model=model_path, method="lora", bits=32, backend="hf", train_file="train.jsonl", val_file="val.jsonl",
        learning_rate=5e-4, epochs=1, max_steps=max_steps, batch_size=2, grad_accum=1, max_seq_length=256,
        lora_r=16, lora_alpha=16, targets="all", optimizer="adamw_torch", grad_checkpointing="none",
        warmup_steps=3, logging_steps=1, eval_steps=max(10, max_steps // 2), save_steps=max(10, max_steps // 2),
        on_oom="auto", gpu="3090", seed=42,
    )


def prepare_demo_project(folder: str | Path, *, max_steps: int = DEMO_MAX_STEPS, model: str = "demo",
                         echo: Echo = print) -> Project:
    """Write the sample data into `folder/data/`, make sure the demo model is converted, and save a
    project whose config, data path and decision answers are the demo's. Idempotent. `model` is any
    name `resolve_model` accepts (tests pass a tiny local model)."""
    from core.models import resolve_model
    from core.sample_data import write_sample_data

    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / "data"
    if not (data_dir / "tickets.jsonl").exists():
        write_sample_data(data_dir)
    model_path, source = resolve_model(model)
    echo(f"demo model: {model_path} ({source})")
    project = Project(root)
    state = project.state
    state.config = demo_config(model_path, max_steps)
    if not state.data.get("path"):
        state.data = {"path": str(data_dir / "tickets.jsonl")}
    if not state.decide.answers:
        state.decide.answers = dict(DEMO_ANSWERS)
        state.decide.recommendation = "fine_tuning"
        state.tick("prompting_tried", "demo answers: prompting was tried")  # what the Decide step ticks for this answer
    project.save()
    return project


def _train(project: Project, echo: Echo):
    from core.train.follow import follow, format_event
    from core.train.launch import start_run, trainer_alive

    run = start_run(project.state.config, runs_dir=project.runs_dir, project_root=project.root, project=project)
    echo(f"training run {run.run_id} in the background (follow it live: tunewiz watch {run.run_id})")
    for event in follow(run, alive=lambda: trainer_alive(run), poll_s=0.3):
        if event.get("type") == "step" and event.get("step", 0) % 5 and event.get("step") != event.get("total_steps"):
            continue  # every 5th step is enough for a summary
        line = format_event(event)
        if line:
            echo("  " + line)
    return run


def _metric(metrics: dict[str, Any], name: str) -> float:
    value = metrics.get(name)
    return float(value) if value is not None else 0.0


def run_headless(folder: str | Path, *, max_steps: int = DEMO_MAX_STEPS, eval_n: int = DEMO_EVAL_N,
                 model: str = "demo", echo: Echo = print) -> dict[str, Any]:
    """The whole pipeline without the UI. Returns a summary whose `improved` says whether the tuned
    model beat the base model on held-out tickets (JSON validity or field accuracy)."""
    from core.data import check_dataset
    from core.data.project import record_check_in_state, record_split_in_state
    from core.data.split import split_dataset
    from core.evaluate.runner import evaluate_run
    from core.export.runner import export_run
    from core.hardware import resolve_gpu
    from core.vram import estimate_for_config

    started = time.time()
    project = prepare_demo_project(folder, max_steps=max_steps, model=model, echo=echo)
    state, root = project.state, project.root
    summary: dict[str, Any] = {"project": str(root)}

    echo("1/5 data: checking the messy copy, then the clean file")
    messy = check_dataset(root / "data" / "tickets-messy.jsonl", max_seq_len=256)
    summary["messy_check"] = {"errors": messy.error_count, "warnings": messy.warning_count,
                              "codes": sorted({i.code for i in [*messy.errors, *messy.warnings]})}
    echo(f"  tickets-messy.jsonl: {messy.error_count} errors, {messy.warning_count} warnings "
         f"({', '.join(summary['messy_check']['codes'])})")
    report = check_dataset(root / "data" / "tickets.jsonl", tokenizer=state.config.base_model, max_seq_len=256)
    record_check_in_state(state, report)
    if report.error_count:
        raise TunewizError(f"the demo data has {report.error_count} errors; regenerate it with python -m core.sample_data")
    split = split_dataset(root / "data" / "tickets.jsonl", out=root)
    record_split_in_state(state, split)
    summary["data"] = {"examples": report.examples, "train": split.train_examples, "val": split.val_examples}
    echo(f"  tickets.jsonl: {report.examples} examples, no errors; split {split.train_examples} train / "
         f"{split.val_examples} val")

    echo("2/5 plan")
    card = resolve_gpu("3090")
    estimate = estimate_for_config(state.config, gpu_total_gb=card["memory_gb"])
    state.plan = {"card": card, "estimate_gb": round(estimate.total_gb, 2), "estimate": estimate.to_json()}
    state.tick("model_selected", Path(state.config.base_model).name)
    state.tick("vram_calculated", f"{estimate.total_gb:.1f} GB on a {card['name']}")
    project.save()
    summary["plan"] = {"card": card["name"], "estimate_gb": round(estimate.total_gb, 2), "verdict": estimate.verdict}
    echo(f"  LoRA on {Path(state.config.base_model).name} at sequence 256, batch 2: {estimate.total_gb:.1f} GB on a {card['name']} "
         f"({estimate.verdict}); training here on the CPU")

    echo(f"3/5 train: {max_steps} steps")
    run = _train(project, echo)
    view = run.view()
    if view.status != "finished":
        raise TunewizError(f"the demo run ended {view.status}: {view.error or 'see ' + str(run.log)}")
    project = Project(root)  # the engine recorded the run in the project file
    state = project.state
    state.tick("no_oom", "finished" + (" (recovered from OOM)" if view.ooms else " without OOM"))
    state.tick("loss_healthy", "no alerts" if not view.alerts else f"{len(view.alerts)} alerts", done=not view.alerts)
    summary["train"] = {"run_id": run.run_id, "steps": view.step, "first_loss": view.losses[0][1] if view.losses else None,
                        "final_loss": view.loss, "eval_loss": view.eval_losses[-1][1] if view.eval_losses else None}

    echo(f"4/5 evaluate: base vs tuned on {eval_n} held-out tickets")
    result = evaluate_run(run, n=eval_n)
    base, tuned = result["metrics"]["base"], result["metrics"]["tuned"]
    state.tick("evaluated", f"{eval_n} held-out tickets")
    project.save()
    summary["eval"] = {
        "loss": {k: round(v["loss"], 4) for k, v in result["loss"].items() if v},
        "base": {k: round(_metric(base, k), 3) for k in ("json_valid", "field_match", "exact_match")},
        "tuned": {k: round(_metric(tuned, k), 3) for k in ("json_valid", "field_match", "exact_match")},
    }
    for name in ("json_valid", "field_match", "exact_match"):
        echo(f"  {name:<12} base {_metric(base, name):6.1%}   tuned {_metric(tuned, name):6.1%}")

    echo("5/5 export: GGUF q8_0 and an Ollama Modelfile")
    exported = export_run(run, "gguf", quant="q8_0", ollama=True)
    state.tick("exported", f"GGUF q8_0 {Path(exported.get('path', '')).name}")
    project.save()
    summary["export"] = {k: exported.get(k) for k in ("path", "modelfile", "verify") if k in exported}
    echo(f"  {exported.get('path')}")

    summary["improved"] = (_metric(tuned, "json_valid") > _metric(base, "json_valid")
                           or _metric(tuned, "field_match") > _metric(base, "field_match"))
    summary["seconds"] = round(time.time() - started, 1)
    return summary
