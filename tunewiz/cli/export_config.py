"""`tunewiz export-config RUN --axolotl`: the run's choices as another tool's config."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._runs import add_run_arguments

    p = subparsers.add_parser(
        "export-config", help="write a run's choices as an Axolotl config",
        description="Write an Axolotl YAML with the run's model, adapter, LoRA, data and schedule choices.",
    )
    add_run_arguments(p)
    p.add_argument("--axolotl", action="store_true", required=True, help="write an Axolotl YAML (the one format so far)")
    p.add_argument("--out", metavar="FILE", default=None, help="where to write it (default: RUN/axolotl.yaml)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from core.evaluate.loading import run_config
    from core.export.axolotl import write_axolotl_config
    from tunewiz.cli._runs import resolve_run

    _project, run_dir = resolve_run(args)
    path = write_axolotl_config(run_config(run_dir), Path(args.out) if args.out else run_dir.path / "axolotl.yaml",
                                output_dir=str(run_dir.path / "axolotl-output"))
    print(f"wrote {path}")
    print(f"  train on several GPUs: accelerate launch -m axolotl.cli.train {path}")
    return 0
