"""Secrets and personal data in training text. A fine-tuned model can repeat its training data verbatim,
so any of these in the data can come back out of the model.

Kinds and what they match:
- private_key: a PEM `-----BEGIN ... PRIVATE KEY-----` block header
- openai_key `sk-...`, anthropic_key `sk-ant-...`, aws_key `AKIA...`/`ASIA...`, github_token `ghp_/gho_/ghs_/ghu_/ghr_`
  and `github_pat_`, slack_token `xox[abprs]-`, hf_token `hf_...`, google_key `AIza...`, stripe_key `sk_live_/rk_live_`
- jwt: three base64url segments starting `eyJ`
- bearer_token: `Bearer <20+ chars>`; password: `password=...`/`"password": "..."` style assignments
- email: name@domain.tld
- phone: `+` international numbers with 8-15 digits, and North-American `(555) 123-4567` / `555-123-4567` shapes
"""

from __future__ import annotations

import re

SECRET_KINDS = ("private_key", "anthropic_key", "openai_key", "aws_key", "github_token", "slack_token", "hf_token",
                "google_key", "stripe_key", "jwt", "bearer_token", "password")
PII_KINDS = ("email", "phone")

_PATTERNS = {
    "private_key": r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----",
    "anthropic_key": r"\bsk-ant-[A-Za-z0-9_\-]{20,}",
    "openai_key": r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
    "aws_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
    "slack_token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "hf_token": r"\bhf_[A-Za-z0-9]{30,}",
    "google_key": r"\bAIza[0-9A-Za-z_\-]{35}",
    "stripe_key": r"\b[rs]k_live_[0-9A-Za-z]{20,}",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "bearer_token": r"\bBearer\s+[A-Za-z0-9_\-\.=]{20,}",
    "password": r"(?i)\b(?:password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?[^\s\"',;]{6,}",
    "email": r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b",
    "phone": r"(?<![\w+])(?:\+\d{1,3}[ \-.]?(?:\(?\d{1,4}\)?[ \-.]?){2,4}\d{2,4}|\(?\b\d{3}\)?[ \-.]\d{3}[ \-.]\d{4})(?![\w])",
}
# Each kind runs only when its literal trigger is in the text (a C substring search), so ordinary text
# costs a few microseconds; phone numbers need at least 8 digits in the text.
_TRIGGERS = {
    "private_key": ("PRIVATE KEY",), "anthropic_key": ("sk-ant-",), "openai_key": ("sk-",), "aws_key": ("AKIA", "ASIA"),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), "slack_token": ("xox",),
    "hf_token": ("hf_",), "google_key": ("AIza",), "stripe_key": ("k_live_",), "jwt": ("eyJ",), "bearer_token": ("Bearer",),
    "password": ("ass", "ASS", "wd", "WD"), "email": ("@",),
}
_COMPILED = {kind: re.compile(pat) for kind, pat in _PATTERNS.items()}


def _mask(text: str) -> str:
    return text[:4] + "..." + text[-2:] if len(text) > 10 else text[:2] + "..."


def find_sensitive(text: str) -> list[tuple[str, str]]:
    """(kind, masked match) for every secret or personal datum in `text` (phone-like numbers with fewer than
    8 or more than 15 digits are ignored)."""
    found: list[tuple[str, str]] = []
    kinds = [k for k, triggers in _TRIGGERS.items() if any(t in text for t in triggers)]
    if sum(text.count(d) for d in "0123456789") >= 8:
        kinds.append("phone")
    for kind in kinds:
        for m in _COMPILED[kind].finditer(text):
            value = m.group()
            if kind == "phone" and not 8 <= sum(c.isdigit() for c in value) <= 15:
                continue
            if kind == "openai_key" and value.startswith("sk-ant-"):
                continue
            found.append((kind, _mask(value)))
    return found


def is_secret(kind: str) -> bool:
    return kind in SECRET_KINDS
