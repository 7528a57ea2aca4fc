"""`tunewiz train [CONFIG] [--detach] [--set key=value ...]`: start a training run."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._train_common import add_runs_dir

    p = subparsers.add_parser(
        "train", help="start a training run (detached trainer; survives a dropped terminal)",
        description="Start a training run from a config YAML (default: the project's config). The trainer runs "
        "as its own process: a closed terminal or dropped SSH connection does not stop it. In the foreground "
        "this prints progress until the run ends; Ctrl-C detaches and leaves it training.",
    )
    p.add_argument("config", nargs="?", help="training config YAML (default: the config in tunewiz.yaml)")
    p.add_argument("--detach", action="store_true", help="print the run id and return at once")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (repeatable), e.g. --set learning_rate=1e-4")
    p.add_argument("--on-oom", choices=["ask", "auto", "stop"], help="what to do on out-of-memory (overrides on_oom)")
    p.add_argument("--json", action="store_true", help="with --detach: print {run_id, path, pid} as JSON")
    add_runs_dir(p)
    p.set_defaults(func=run)


def _load_config(args):
    from pathlib import Path

    from core.config import TrainConfig, load_config, parse_set_overrides, read_yaml_config
    from core.project import Project

    overrides = parse_set_overrides(args.overrides)
    if args.on_oom:
        overrides["on_oom"] = args.on_oom
    if args.config:
        config = read_yaml_config(args.config, overrides)
        # Relative data/model paths in a config file may be relative to the file itself.
        base = Path(args.config).resolve().parent
        root = Path(args.project or ".").resolve()
        fixes = {}
        for name in ("train_file", "val_file", "base_model"):
            value = getattr(config, name)
            if value and not Path(value).is_absolute() and not (root / value).exists() and (base / value).exists():
                fixes[name] = str((base / value).resolve())
        return config.model_copy(update=fixes) if fixes else config
    state = Project(args.project).state
    return load_config({**state.config.model_dump(), **overrides}, "tunewiz.yaml") if overrides else TrainConfig.model_validate(state.config.model_dump())


def run(args) -> int:
    import os
    from pathlib import Path

    from core.config import HOSTED_BACKENDS
    from core.train.launch import start_run
    from tunewiz.cli._common import print_json, warn
    from tunewiz.cli._train_common import follow_run, runs_dir_for

    config = _load_config(args)
    root = Path(args.project or os.getcwd()).resolve()
    runs_dir = Path(args.runs_dir).resolve() if args.runs_dir else runs_dir_for(args)
    if config.output_dir and not args.runs_dir and not os.environ.get("TUNEWIZ_RUNS_DIR"):
        runs_dir = (root / config.output_dir).resolve()
    if config.backend in HOSTED_BACKENDS:
        return _start_hosted(config, root, runs_dir, args)
    run_dir = start_run(config, runs_dir=runs_dir, project_root=root, detach=True)
    pid = run_dir.read_state().get("pid")
    if args.detach:
        if args.json:
            print_json({"run_id": run_dir.run_id, "path": str(run_dir.path), "pid": pid})
        else:
            print(run_dir.run_id)
            warn(f"training in the background (pid {pid}); follow: tunewiz logs {run_dir.run_id} --follow")
        return 0
    warn(f"run {run_dir.run_id} in {run_dir.path} (Ctrl-C detaches; the run keeps going)")
    return follow_run(run_dir)


def _start_hosted(config, root, runs_dir, args) -> int:
    """`backend: openai|together`: the same data checks and events, through the provider's API."""
    import os
    import sys

    from core.config import TrainConfig
    from core.hosted import hyperparameters_from_config, start_hosted_run
    from tunewiz.cli._common import print_json, warn

    def local(path):
        return str((root / path).resolve()) if path else None

    model = None if config.base_model == TrainConfig.model_fields["base_model"].default else config.base_model
    run_dir = start_hosted_run(
        config.backend, local(config.train_file), val_file=local(config.val_file), model=model,
        hyperparameters=hyperparameters_from_config(config.backend, config), runs_dir=runs_dir,
        detach=args.detach, poll_interval=float(os.environ.get("TUNEWIZ_HOSTED_POLL_INTERVAL", "15")), echo=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        print_json({"run_id": run_dir.run_id, "path": str(run_dir.path), "backend": config.backend})
    elif args.detach:
        print(run_dir.run_id)
        warn(f"hosted job followed in the background; watch it: tunewiz watch {run_dir.run_id}")
    return 0 if run_dir.view().status != "failed" else 1
