"""Plain-text renderings of a check report: the CLI's human output and the token-length histogram
(drawn with plotext, also shown by the wizard)."""

from __future__ import annotations

from pathlib import Path

from core.data.report import VERDICT_TEXT, CheckReport


def histogram_text(report: CheckReport, width: int = 70, height: int = 12) -> str:
    """The per-example token-length histogram as text (plotext), with max_seq_length marked."""
    import plotext as plt

    hist = report.stats["tokens"]["histogram"]
    if not hist["counts"]:
        return "(no valid examples to plot)"
    edges = hist["bin_edges"]
    centers = [round((a + b) / 2) for a, b in zip(edges, edges[1:])]
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.bar([str(c) for c in centers], hist["counts"], width=0.8)
    overflow = hist.get("overflow", 0)
    plt.title("tokens per example" + (f" ({overflow} longer examples not shown)" if overflow else ""))
    plt.xlabel(f"tokens (max_seq_length {report.max_seq_len}, recommended {report.recommended_max_seq_len})")
    return plt.uncolorize(plt.build())


def _lines(lines: list[int]) -> str:
    return ", ".join(map(str, lines[:5])) + (" ..." if len(lines) > 5 else "")


def render_text(report: CheckReport, *, details: int = 20, histogram: bool = True) -> str:
    """The human report printed by `tunewiz check`: verdict first, then each problem code with its count,
    first lines and fix, then the first problems in detail, then the quality numbers."""
    s = report.stats
    out = [f"{report.path}", ""]
    out.append(f"  format      {report.format}" + ("" if len(s['formats_by_file']) <= 1 else
               "  (" + ", ".join(f"{k}: {v}" for k, v in s["formats_by_file"].items()) + ")"))
    out.append(f"  examples    {report.examples:,} ({report.valid_examples:,} valid)")
    out.append(f"  quantity    {s['quantity']['verdict']}")
    out.append(f"  problems    {report.error_count:,} errors, {report.warning_count:,} warnings")
    out.append(f"  verdict     {VERDICT_TEXT[report.verdict]}")
    groups = s["issue_counts"]
    for severity, title in (("error", "Errors (must fix)"), ("warning", "Warnings")):
        rows = [g for g in groups if g["severity"] == severity]
        if not rows:
            continue
        out += ["", title]
        for g in rows:
            where = f"lines {_lines(g['first_lines'])}" if g["first_lines"] else "file-wide"
            out.append(f"  {g['code']:<26} x{g['count']:<6} {where}")
            out.append(f"      {g['title']}. Fix: {g['fix']}")
    shown = report.errors[:details] + report.warnings[: max(0, details - len(report.errors))]
    if shown:
        out += ["", "First problems"]
        for i in shown:
            loc = f"{Path(i.file).name}:" if report.with_file and i.file else ""
            line = f"line {i.line}" if i.line is not None else "file"
            field = f" {i.field}" if i.field else ""
            out.append(f"  {loc}{line}{field}: [{i.code}] {i.message}")
        more = len(report.issues) - len(shown)
        if more > 0:
            out.append(f"  ... and {more:,} more (use --json for all)")
    t = s["tokens"]
    pe, pr = t["per_example"], t["per_reply"]
    out += ["", f"Tokens ({t['method']})",
            f"  per example  p50 {pe['p50']:,}  p90 {pe['p90']:,}  p99 {pe['p99']:,}  max {pe['max']:,}",
            f"  per reply    p50 {pr['p50']:,}  p90 {pr['p90']:,}  p99 {pr['p99']:,}  max {pr['max']:,}",
            f"  over max_seq_length {t['max_seq_len']}: {t['over_max']['count']:,} examples "
            f"({t['over_max']['share']:.1%}), {t['over_max']['tokens_cut']:,} tokens would be cut",
            f"  recommended max_seq_length: {t['recommended_max_seq_len']}"]
    if histogram and t["histogram"]["counts"]:
        out += ["", histogram_text(report)]
    d, sp, rf, op = s["duplicates"], s["system_prompts"], s["reply_format"], s["openings"]
    out += ["", "Quality",
            f"  duplicates   {d['exact']:,} exact, {d['near']:,} near; {s['conflicting_answers']:,} prompts with "
            f"conflicting answers; {s['leakage']:,} train/val leaks",
            f"               method: {d['method']}",
            f"  system       {sp['share']:.0%} of examples have a system prompt; {sp['distinct']} distinct",
            f"  replies      {rf['json_share']:.0%} are JSON" + ("  (inconsistent: some are not)" if rf["inconsistent"] else ""),
            f"  openings     {op['distinct']:,} distinct user openings"
            + (f"; most common {op['top'][0]['opening']!r} in {op['top'][0]['share']:.0%}" if op["top"] else "")
            + ("  (low diversity)" if op["low_diversity"] else "")]
    sec, pii = s["secrets"], s["personal_data"]
    if sec["count"] or pii["count"]:
        kinds = ", ".join(f"{k} x{v}" for k, v in {**sec["by_kind"], **pii["by_kind"]}.items())
        out.append(f"  sensitive    {sec['count']} secrets, {pii['count']} personal data ({kinds}) on lines "
                   f"{_lines(s['sensitive_lines'])}")
        out.append("               A fine-tuned model can repeat these word for word: remove or mask them.")
    return "\n".join(out)
