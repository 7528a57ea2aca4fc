"""`tunewiz eval RUN`: held-out loss/perplexity and side-by-side generation with task metrics. Hosted runs
(OpenAI, Together) are evaluated through the provider's chat API, without loss."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._runs import add_run_arguments

    p = subparsers.add_parser(
        "eval", help="evaluate a finished run on its held-out split (base vs tuned)",
        description="Loss and perplexity of the base and the tuned model on the validation split, then "
        "seeded generation on N held-out prompts scored against the references (exact match, contains, "
        "JSON validity and fields, optional regex). Writes eval.json into the run folder. For a hosted run "
        "(OpenAI, Together) both models answer through the provider's chat API with the key from "
        "OPENAI_API_KEY / TOGETHER_API_KEY; loss and perplexity are not available there.",
    )
    add_run_arguments(p)
    p.add_argument("--n", type=int, default=50, help="held-out prompts to generate for (default 50)")
    p.add_argument("--regex", metavar="R", default=None, help="also score whether each answer matches this regex")
    p.add_argument("--seed", type=int, default=None, help="prompt selection and sampling seed (default: the run's)")
    p.add_argument("--max-new-tokens", type=int, default=None, help="answer length cap (default: from the references)")
    p.add_argument("--base-model", metavar="ID", default=None,
                   help="hosted runs: the base model to compare with, when the provider does not serve the one "
                   "the job trained from for chat (default: that one)")
    p.add_argument("--json", action="store_true", help="print eval.json's content instead of a summary")
    p.add_argument("--samples", type=int, default=3, metavar="K", help="side-by-side examples to print (default 3)")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from core.evaluate.runner import evaluate_run, summary_lines
    from core.hosted.follower import hosted_file
    from tunewiz.cli._common import print_json
    from tunewiz.cli._runs import StderrProgress, resolve_run, tick

    project, run_dir = resolve_run(args)
    hosted = {"base_chat_model": args.base_model} if args.base_model else {}
    if hosted_file(run_dir).exists():
        hosted["on_retry"] = lambda text: print(f"  {text}", file=sys.stderr, flush=True)
    result = evaluate_run(run_dir, n=args.n, regex=args.regex, seed=args.seed, max_new_tokens=args.max_new_tokens,
                          progress=StderrProgress(), **hosted)
    tick(project, "evaluated", f"eval.json for {run_dir.run_id}: {result['n']} prompts", "evaluate",
         {"run_id": run_dir.run_id, "eval_file": str(run_dir.path / "eval.json")})
    if args.json:
        print_json(result)
        return 0
    print(f"run {run_dir.run_id}")
    for line in summary_lines(result):
        print(f"  {line}")
    for sample in result["samples"][: max(args.samples, 0)]:
        print(f"\n  prompt:    {sample['prompt'][:100]}")
        print(f"  reference: {sample['reference'][:100]}")
        print(f"  base:      {sample['base'][:100]}")
        print(f"  tuned:     {sample['tuned'][:100]}")
    print(f"\nwrote {run_dir.path / 'eval.json'}")
    return 0
