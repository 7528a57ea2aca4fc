"""`tunewiz plan`: peak VRAM for a model and method on the detected or a target card, or the picker
table of catalog models x methods with verdicts and the largest batch and sequence that fit."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="estimate training VRAM and pick a model/method that fits the GPU",
        description="Estimate peak training memory per GPU (GB = 1e9 bytes) with a breakdown. With --model and "
        "--method: one estimate; otherwise a models x methods table for the card.",
    )
    p.add_argument("--gpu", default="auto", help="auto (detected, else RTX 3090), a preset (3060, 3090, 4090, a10g, l4, "
                   "a6000, l40s, a100-40, a100-80, h100, h200) or a size like 24GB")
    p.add_argument("--gpus", type=int, default=1, metavar="N", help="GPUs to train on (figure is per GPU)")
    p.add_argument("--sharding", choices=["ddp", "fsdp"], default="ddp", help="multi-GPU strategy (with --gpus > 1)")
    p.add_argument("--model", metavar="ID_OR_PATH", help="catalog model, HF id (cache / config.json only) or local folder")
    p.add_argument("--method", choices=["full", "lora", "qlora"])
    p.add_argument("--bits", type=int, choices=[16, 8, 4], help="base precision (default: 4 for qlora, 16 otherwise)")
    p.add_argument("--batch", type=int, default=2, metavar="N", help="micro-batch per GPU (default 2)")
    p.add_argument("--seq", type=int, default=None, metavar="N",
                   help="sequence length (default: the Data step's recommendation, else 2048)")
    p.add_argument("--grad-accum", type=int, default=4, metavar="N", help="gradient accumulation (memory-neutral)")
    p.add_argument("--optimizer", choices=["adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit", "sgd"],
                   default="adamw_8bit")
    p.add_argument("--lora-r", type=int, default=16, metavar="N")
    p.add_argument("--targets", choices=["attn", "all"], default="all")
    p.add_argument("--grad-checkpointing", choices=["none", "hf", "unsloth"], default=None,
                   help="default: unsloth with the unsloth backend, hf otherwise")
    p.add_argument("--backend", choices=["unsloth", "hf"], default="unsloth")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _recommended_seq(project_dir) -> int | None:
    from core.project import Project

    try:
        project = Project(project_dir)
    except Exception:
        return None
    if not project.file.exists():
        return None
    value = project.state.data.get("recommended_max_seq_length")
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def run(args: argparse.Namespace) -> int:
    from core.catalog import resolve_arch
    from core.errors import TunewizError
    from core.hardware import resolve_gpu
    from dataclasses import replace

    from core.planner import METHODS, method_setup, plan_row, starting_point
    from core.vram import Setup
    from tunewiz.cli._common import print_json

    for name in ("batch", "grad_accum", "lora_r", "gpus"):
        if getattr(args, name) < 1:
            raise TunewizError(f"--{name.replace('_', '-')} must be at least 1")
    if args.seq is not None and args.seq < 16:
        raise TunewizError("--seq must be at least 16")
    if args.method == "qlora" and args.bits == 16:
        raise TunewizError("--method qlora needs --bits 4 or 8", hint="use --method lora for a 16-bit base")
    if args.method in ("full", "lora") and args.bits in (4, 8):
        raise TunewizError(f"--method {args.method} trains a 16-bit model; --bits {args.bits} means --method qlora")
    card = resolve_gpu(args.gpu)
    card["count"] = max(args.gpus, 1)
    seq_source = "--seq"
    seq = args.seq
    if seq is None:
        seq = _recommended_seq(args.project)
        seq_source = "the Data step's recommended_max_seq_length" if seq else "the guide's default"
        seq = seq or 2048
    base = Setup(batch_size=args.batch, seq_len=seq, lora_r=args.lora_r, targets=args.targets, optimizer=args.optimizer,
                 grad_checkpointing=args.grad_checkpointing or ("unsloth" if args.backend == "unsloth" else "hf"),
                 backend=args.backend, gpus=args.gpus, sharding=args.sharding)

    if args.model and args.method:
        arch = resolve_arch(args.model)
        setup = method_setup(args.method, base, args.bits)
        row = plan_row(arch, setup, card)
        out = row.to_json()
        out["seq_source"] = seq_source
        out["grad_accum"] = args.grad_accum
        from_data = seq if seq_source.startswith("the Data") else None
        start = starting_point(arch, replace(setup, seq_len=seq), card, recommended_seq=from_data)
        out["starting_point"] = start.to_json()["settings"] | {"adjustments": start.adjustments}
        if args.json:
            print_json(out)
        else:
            _print_single(out, card)
        return 0

    from core.catalog import PICKER_MODELS

    models = [args.model] if args.model else list(PICKER_MODELS)
    methods = (args.method,) if args.method else METHODS
    rows = [plan_row(resolve_arch(m), method_setup(meth, base, args.bits), card) for m in models for meth in methods]
    if args.json:
        print_json([r.to_json() for r in rows])
    else:
        _print_table(rows, card, base)
    return 0


def _card_line(card) -> str:
    src = card.get("source", "")
    note = f" ({card['note']})" if card.get("note") else ""
    return f"{card['name']}, {card['memory_gb']:.0f} GB [{src}]{note}"


def _print_single(out, card) -> None:
    b = out["breakdown"]
    s = out["settings"]
    print(f"{out['model']}  {out['method']} ({out['bits']}-bit)  on {_card_line(card)}")
    print(f"  batch {s['batch_size']} x seq {s['seq_len']} ({out['seq_source']}), r {s['lora_r']} {s['targets']}, "
          f"{s['optimizer']}, checkpointing {s['grad_checkpointing']}, backend {s['backend']}, {s['gpus']} GPU(s)")
    width = max(len(k) for k in b)
    for key, value in b.items():
        print(f"  {key[:-3]:<{width}} {value:7.2f} GB")
    pct = 100 * out["total_gb"] / card["memory_gb"]
    print(f"  {'total':<{width}} {out['total_gb']:7.2f} GB  = {pct:.0f}% of {card['memory_gb']:.0f} GB -> {out['verdict']}")
    print(f"  largest batch at seq {s['seq_len']}: {out['max_batch'] or 'none fits'}; "
          f"largest seq at batch 1: {out['max_seq'] or 'none fits'}")
    sp = out["starting_point"]
    print(f"  starting point: lr {sp['learning_rate']}, batch {sp['batch_size']} x accum {sp['grad_accum']}, "
          f"seq {sp['max_seq_length']}, r {sp['lora_r']}/alpha {sp['lora_alpha']}, {sp['epochs']} epochs"
          + (f" (adjusted: {'; '.join(sp['adjustments'])})" if sp["adjustments"] else ""))
    for note in out["notes"]:
        print(f"  note: {note}")


def _print_table(rows, card, base) -> None:
    print(f"Card: {_card_line(card)}; batch {base.batch_size} x seq {base.seq_len}, {base.backend} backend")
    print(f"{'model':40s} {'method':6s} {'peak GB':>8s}  {'verdict':13s} {'max batch':>9s} {'max seq':>8s}")
    for r in rows:
        e = r.estimate
        print(f"{r.arch.id:40s} {e.setup.method:6s} {e.total_gb:8.1f}  {e.verdict:13s} {r.max_batch:9d} {r.max_seq:8d}")
