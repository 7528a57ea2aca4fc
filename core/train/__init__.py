"""The training engine: detached trainer processes, backends (transformers+peft+trl, unsloth), the
event log, checkpoints, resume, OOM recovery and health alerts.

Public entry points (import the submodules; nothing heavy loads at import time):
- `core.train.launch`: `start_run`, `resume_run`, `stop_run`, `pause_run`, `save_now`, `choose_oom_option`,
  `run_summary`, `runs_summary`.
- `core.train.smoke`: `run_smoke(work_dir)` for `tunewiz doctor --smoke`.
- `core.train.backends`: `available_backends()`, `resolve_backend_name(config)`.
"""
