"""`tunewiz export RUN --format adapter|merged|gguf`: export a finished run and verify it."""

from __future__ import annotations

FORMATS = ("adapter", "merged", "gguf")
QUANTS = ("f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m")


def register(subparsers) -> None:
    from tunewiz.cli._runs import add_run_arguments

    p = subparsers.add_parser(
        "export", help="export a run: adapter, merged safetensors or GGUF (+ Ollama Modelfile)",
        description="Export a finished run and verify it by reloading and comparing logits. GGUF is written "
        "in Python (f16, q8_0, q4_0); q4_k_m and q5_k_m use llama.cpp's llama-quantize when installed.",
    )
    add_run_arguments(p)
    p.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    p.add_argument("--quant", choices=QUANTS, default=None, help="GGUF type (default q8_0)")
    p.add_argument("--ollama", action="store_true", help="also write an Ollama Modelfile next to the export")
    p.add_argument("--out", metavar="DIR", default=None, help="output folder (default: RUN/export/FORMAT)")
    p.add_argument("--push-to-hub", metavar="REPO", default=None,
                   help="upload to this Hugging Face repo (private) with the token in HF_TOKEN; the token is never stored")
    p.add_argument("--no-verify", action="store_true", help="skip reloading the GGUF to compare logits")
    p.add_argument("--json", action="store_true", help="print the export record as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.export.runner import export_run
    from tunewiz.cli._common import print_json
    from tunewiz.cli._runs import StderrProgress, resolve_run, tick

    project, run_dir = resolve_run(args)
    entry = export_run(run_dir, args.format, quant=args.quant, ollama=args.ollama, out=args.out,
                       push_to_hub=args.push_to_hub, verify=not args.no_verify, progress=StderrProgress())
    kind = f"GGUF {entry['quant']}" if args.format == "gguf" else args.format
    tick(project, "exported", f"{kind} of {run_dir.run_id} verified", "export",
         {"run_id": run_dir.run_id, "last": entry["path"], "format": args.format})
    if args.json:
        print_json(entry)
        return 0
    verify = entry.get("verify", {})
    print(f"wrote {entry['path']}")
    if "rel_error" in verify:
        print(f"  verified: logits within {verify['rel_error']:.2e} of {verify.get('reference')} "
              f"(tolerance {verify['tolerance']:.0e}), top-1 agreement {verify['top1_agree']:.0%}")
    elif verify.get("ok") and not verify.get("skipped"):
        print("  verified: loads with PeftModel.from_pretrained and changes the base model's outputs")
    if entry.get("modelfile"):
        print(f"  Modelfile: {entry['modelfile']}")
        print(f"  run it: cd {entry['modelfile'].rsplit('/', 1)[0]} && ollama create {run_dir.run_id.lower()} -f Modelfile")
    if entry.get("hub_url"):
        print(f"  pushed: {entry['hub_url']}")
    return 0
