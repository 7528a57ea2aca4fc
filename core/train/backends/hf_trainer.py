"""The glue between transformers' Trainer and the engine: a TrainerCallback that turns Trainer hooks
into events and control decisions, and a Trainer subclass that counts tokens, records where the
loop is (for OOM context) and hosts the test-only fault hook. Imported only inside the trainer."""

from __future__ import annotations

import math
from pathlib import Path

from transformers import TrainerCallback

from core.events import as_float
from core.train.context import RunContext


class EventCallback(TrainerCallback):
    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def on_train_begin(self, args, state, control, **kwargs):
        self.ctx.on_train_begin(state.global_step, state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
        actions = self.ctx.poll_control(state.global_step)
        if "save" in actions or "stop" in actions:
            control.should_save = True
        if "stop" in actions:
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return control
        loss = as_float(logs.get("loss"))
        self.ctx.on_log(state.global_step, state.epoch, loss, as_float(logs.get("learning_rate")),
                        as_float(logs.get("grad_norm")))
        if self.ctx.stop_reason == "nan_loss":
            control.should_save = False  # keep the last good checkpoint; never save NaN weights
            control.should_evaluate = False
            control.should_training_stop = True
        return control

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.ctx.on_eval(state.global_step, as_float((metrics or {}).get("eval_loss")))
        if self.ctx.stop_reason == "overfitting":
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_save(self, args, state, control, **kwargs):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if (path / "trainer_state.json").exists():
            self.ctx.on_checkpoint(state.global_step, str(path))
        return control




def make_trainer_class(base: type, ctx: RunContext) -> type:
    """A subclass of `base` (SFTTrainer) wired to `ctx`."""

    fused_missing = _fused_kernel_missing()

    class TunewizTrainer(base):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if fused_missing:
                # trl's fused LM-head loss needs Triton, which CPU-only torch builds lack: use the model's
                # own causal-LM loss (same labels, same masking) instead of failing.
                from transformers import Trainer

                return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

        def training_step(self, model, inputs, num_items_in_batch=None):
            ctx.where = "train"
            ctx.faults.check("train", self.state.global_step + 1)
            mask = inputs.get("attention_mask") if hasattr(inputs, "get") else None
            ids = inputs.get("input_ids") if hasattr(inputs, "get") else None
            if mask is not None:
                ctx.count_tokens(int(mask.sum()))
            elif ids is not None:
                ctx.count_tokens(ids.numel())
            return super().training_step(model, inputs, num_items_in_batch)

        def evaluate(self, *args, **kwargs):
            ctx.where = "eval"
            result = super().evaluate(*args, **kwargs)
            ctx.where = "train"  # not in `finally`: after an OOM the engine needs to know it was eval
            return result

        def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
            ctx.where = "eval"
            ctx.faults.check("eval", self.state.global_step)
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

        def _save_checkpoint(self, model, trial):
            ctx.where = "checkpoint"
            ctx.faults.check("checkpoint", self.state.global_step)
            try:
                super()._save_checkpoint(model, trial)
            except BaseException:
                # A failed save (full disk, OOM) must not leave a half checkpoint that resume would pick.
                _remove_partial(Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}")
                raise
            ctx.where = "train"

    return TunewizTrainer


def _fused_kernel_missing() -> bool:
    try:
        from trl.trainer import utils as trl_utils
    except ImportError:
        return False
    return hasattr(trl_utils, "_ChunkedLogProbFunction") and trl_utils._ChunkedLogProbFunction is None


def _remove_partial(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
