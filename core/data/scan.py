"""One pass over a run of records: validation issues, fingerprints and quality counters, kept compact and
picklable so that byte ranges of a large JSONL file can be scanned in worker processes and merged
(`core.data.merge`) into exactly the report a single pass gives.

Every example has an order key `file_index << 40 | record_index` (for JSONL the record index is the line
number); issues are kept as `(order, phase, issue)` with phase 0 = reading/validation, 1 = duplicates
(added at merge), 2 = secrets, 3 = too long, which is the order a serial check adds them in.
Duplicate detection needs every example, so a scan only records four 8-byte fingerprints per valid
example: blake2b-64 of the whole conversation, and Python's `hash()` (SipHash, 64-bit) of its
near-duplicate text, of the prompt and of the answer; `merge` finds the duplicates with numpy. `hash()` is
salted per interpreter, so scans are only merged within one process or with forked workers (which
share the salt); `core.data.parallel` forks for that reason."""

from __future__ import annotations

import json
import re
import sys
from array import array
from collections import Counter
from hashlib import blake2b
from pathlib import Path

from core.data.codes import ERROR, Issue, severity
from core.data.formats import _TOP_KEYS, detect_format, normalize
from core.data.quality import near_text
from core.data.reader import blank_line_issue, bom_issue, invalid_json_issue, invalid_utf8_issue, too_deep_issue
from core.data.secrets import find_sensitive, is_secret
from core.data.validate import check_conversation

ORDER_SHIFT = 40
MAX_DISTINCT = 20000
MAX_LINES = 1000
RECORD_CODES = ("invalid_json", "invalid_utf8", "csv_malformed")
_BLOCK = 1 << 20
_PROGRESS_STEP = 1 << 20
_BOM = b"\xef\xbb\xbf"
_TOP_MESSAGES_KEYS = frozenset(_TOP_KEYS["messages"])
_ROLE_CONTENT = frozenset({"role", "content"})
_EXPECT = ("user", "assistant")
_PREFIX = {r: r + "\x1f" for r in ("system", "user", "assistant", "tool")}
_JSON_OPEN = ("{", "[")
# Near-duplicate text of ASCII input in one C call: letters lowercased, digits kept, everything else a space.
_NEAR_TABLE = bytes(c + 32 if 65 <= c <= 90 else c if (97 <= c <= 122 or 48 <= c <= 57) else 32 for c in range(256))
_SPACE_RUNS = re.compile(rb"  +")
_DIGITS = b"0123456789"
_JSONDecodeError = json.JSONDecodeError
try:  # optional: about 4x faster parsing; every line it refuses is read again with `json` for the message
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None
# `json` gives up on nesting near the recursion limit, which depends on how deep the caller's stack is, and
# orjson does not: lines that could nest that deep (this many brackets) are parsed by `json` with exactly
# _MAX_NESTING levels available, so the verdict is the same in every caller and worker.
_DEEP = 400
_MAX_NESTING = 980


def fingerprint(data: bytes) -> bytes:
    """An 8-byte blake2b digest (exact duplicates; system prompts turned away by a full counter)."""
    return blake2b(data, digest_size=8).digest()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _ascii_sensitive_level(wb: bytes) -> int:
    """What `core.data.secrets` could match in this ASCII text: 0 nothing, 1 at most a phone number (the
    text has 8+ digits), 2 anything. A necessary test built from one-byte searches (memchr) first."""
    if b"@" in wb:
        return 2
    if b"-" in wb and (b"sk-" in wb or b"xox" in wb or b"-----BEGIN" in wb):
        return 2
    if b"_" in wb and (b"gh" in wb or b"github_pat_" in wb or b"hf_" in wb or b"k_live_" in wb):
        return 2
    if b"A" in wb and (b"AKIA" in wb or b"ASIA" in wb or b"AIza" in wb):
        return 2
    if (b"J" in wb and b"eyJ" in wb) or (b"B" in wb and b"Bearer" in wb):
        return 2
    if b"w" in wb or b"W" in wb:
        low = wb.lower()
        if b"pwd" in low or b"passw" in low:
            return 2
    return 1 if len(wb) - len(wb.translate(None, _DIGITS)) >= 8 else 0


def fast_messages(msgs) -> list | None:
    """`msgs` itself when it is the common well-formed chat (optional system first, then user/assistant
    alternating, ending with the assistant, every message exactly role + non-blank string content), for
    which the full validation finds nothing; None means: take the full path."""
    if type(msgs) is not list:
        return None
    n = len(msgs)
    off = 0
    for i, m in enumerate(msgs):
        if type(m) is not dict or m.keys() != _ROLE_CONTENT:
            return None
        c = m["content"]
        if type(c) is not str or not c or c.isspace():
            return None
        r = m["role"]
        if i == 0 and r == "system":
            off = 1
        elif r != _EXPECT[(i - off) & 1]:
            return None
    if (n - off) & 1 or n - off < 2:
        return None
    return msgs


class Scan:
    """The findings of one pass over consecutive records (a whole input, or one byte range of a JSONL file).

    Issues: at most `cap` kept per code (the rest only counted in `dropped`). Valid examples: order key,
    line and fingerprints in compact arrays; token counts; the capped counters of `QualityStats`."""

    def __init__(self, files: list[str], *, forced: str = "auto", max_seq_len: int = 2048, cap: int = 1000,
                 counter=None):
        self.files = files
        self.forced = forced
        self.max_seq_len = max_seq_len
        self.cap = cap
        self.counter = counter if counter is not None and counter.exact else None
        self.use_orjson = _orjson_loads is not None
        self.issues: list[tuple[int, int, Issue]] = []
        self.kept_n: dict[str, int] = {}
        self.dropped: Counter[str] = Counter()
        self.examples = self.valid = 0
        # per valid example
        self.order = array("q")
        self.lines = array("q")
        self.efp = bytearray()
        self.nfp = array("q")
        self.pfp = array("q")
        self.afp = array("q")
        self.has_prompt = bytearray()
        # tokens
        self.ex_tokens = array("q")
        self.reply_tokens = array("q")
        self.over_count = self.tokens_cut = 0
        self._pending: list[tuple[int, int, int, list[dict]]] = []
        # quality counters (see core.data.quality for their meaning and caps)
        self.with_system = 0
        self.systems: Counter[str] = Counter()
        self.systems_overflow: Counter[bytes] = Counter()
        self.opening_ids: dict[str, int] = {}
        self.opening_seq = array("i")
        self.json_replies = self.replies = self.non_json_count = 0
        self.non_json_lines: list[tuple[int, int]] = []
        self.sensitive: Counter[str] = Counter()
        self.sensitive_lines: list[int] = []

    def __getstate__(self):
        state = self.__dict__.copy()
        state["counter"] = None
        return state

    # --- issues -----------------------------------------------------------------------------------------
    def issue(self, order: int, phase: int, issue: Issue) -> None:
        code = issue.code
        n = self.kept_n.get(code, 0)
        if n < self.cap:
            self.kept_n[code] = n + 1
            self.issues.append((order, phase, issue))
        else:
            self.dropped[code] += 1

    # --- records ----------------------------------------------------------------------------------------
    def record(self, fidx: int, order: int, line: int, obj, pre: list[Issue], file_fmt: str | None) -> None:
        """One decoded record (obj not None: a JSON null is skipped silently, as before)."""
        self.examples += 1
        forced = self.forced
        if type(obj) is dict and file_fmt == "messages" and "messages" in obj:
            turns = fast_messages(obj["messages"])
            if turns is not None:
                for issue in pre:
                    self.issue(order, 0, issue)
                if not obj.keys() <= _TOP_MESSAGES_KEYS:
                    self._unknown_keys(fidx, order, line, obj)
                self.example(fidx, order, line, turns)
                return
        file = self.files[fidx]
        issues = list(pre)
        turns = None
        if not isinstance(obj, dict):
            issues.append(Issue(line, "", "not_object", f"the record is {type(obj).__name__}, not a JSON object", file))
        else:
            fmt = file_fmt
            ok = True
            if forced == "auto":
                found = detect_format(obj)
                if found is None:
                    keys = ", ".join(map(repr, list(obj)[:6])) or "no keys"
                    issues.append(Issue(line, "", "unknown_format", f"record has {keys}; no known format", file))
                    ok = False
                elif file_fmt is not None and found != file_fmt:
                    issues.append(Issue(line, "", "mixed_formats", f"record is {found} but this file is {file_fmt}",
                                        file))
                    ok = False
                fmt = found
            if ok:
                turns, more = normalize(obj, fmt, line, file)
                issues += more
                if turns is not None:
                    issues += check_conversation(turns, fmt, line, file)
        has_error = False
        for issue in issues:
            self.issue(order, 0, issue)
            has_error = has_error or severity(issue.code) == ERROR
        if turns is not None and not has_error:
            self.example(fidx, order, line, turns)

    def _unknown_keys(self, fidx: int, order: int, line: int, obj: dict) -> None:
        """The unknown-key warnings `normalize` gives a messages record, built only while under the cap."""
        for key in obj:
            if key not in _TOP_MESSAGES_KEYS:
                n = self.kept_n.get("unknown_key", 0)
                if n < self.cap:
                    self.kept_n["unknown_key"] = n + 1
                    message = f"unknown key {key!r} for the messages format"
                    self.issues.append((order, 0, Issue(line, str(key), "unknown_key", message, self.files[fidx])))
                else:
                    self.dropped["unknown_key"] += 1

    def unreadable(self, order: int, issues: list[Issue]) -> None:
        """A record that could not be decoded (or a blank line): counted when it is a record-level error."""
        if any(i.code in RECORD_CODES for i in issues):
            self.examples += 1
        for issue in issues:
            self.issue(order, 0, issue)

    # --- a valid example: fingerprints, quality counters, tokens ------------------------------------------
    def example(self, fidx: int, order: int, line: int, turns: list[dict]) -> None:
        self.valid += 1
        self.order.append(order)
        self.lines.append(line)
        parts = [_PREFIX[t["role"]] + t["content"] for t in turns]
        whole = "\x1e".join(parts)
        wb = _encode(whole)
        self.efp += blake2b(wb, digest_size=8).digest()
        ascii_text = whole.isascii()
        if ascii_text:
            # == b" ".join(...split()): only letters, digits and spaces are left to collapse
            self.nfp.append(hash(_SPACE_RUNS.sub(b" ", wb.translate(_NEAR_TABLE)).strip()))
        else:
            self.nfp.append(hash(_encode(near_text(whole))))
        system = user = None
        last = -1
        total = 0
        approx = self.counter is None
        reply_tokens = self.reply_tokens
        for i, t in enumerate(turns):
            role = t["role"]
            content = t["content"]
            n = (len(content) + 3) >> 2
            total += n + 4
            if role == "assistant":
                last = i
                self.replies += 1
                if approx:
                    reply_tokens.append(n)
                if content.lstrip()[:1] in _JSON_OPEN and _is_json(content.strip()):
                    self.json_replies += 1
                else:
                    self.non_json_count += 1
                    if len(self.non_json_lines) < MAX_LINES:
                        self.non_json_lines.append((fidx, line))
            elif role == "user":
                if user is None:
                    user = content
            elif role == "system" and system is None:
                system = content
        if last > 0:
            self.pfp.append(hash("\x1e".join(parts[:last])))
            self.afp.append(hash(turns[last]["content"].strip()))
            self.has_prompt.append(1)
        else:
            self.pfp.append(0)
            self.afp.append(0)
            self.has_prompt.append(0)
        if system is not None:
            self.with_system += 1
            systems = self.systems
            if len(systems) < MAX_DISTINCT or system in systems:
                systems[system] += 1
            else:
                self.systems_overflow[fingerprint(_encode(system))] += 1
        ids = self.opening_ids
        if user is not None and len(ids) < MAX_DISTINCT:
            key = " ".join(user.lower().split(None, 3)[:3])
            k = ids.get(key)
            if k is None:
                k = ids[key] = len(ids)
            self.opening_seq.append(k)
        if not ascii_text:
            if find_sensitive(whole):
                self._secrets(fidx, order, line, turns, 2)
        else:
            level = _ascii_sensitive_level(wb)
            if level:
                self._secrets(fidx, order, line, turns, level)
        if approx:
            self.ex_tokens.append(total)
            if total > self.max_seq_len:
                self._too_long(fidx, order, line, total)
        else:
            self._pending.append((fidx, order, line, turns))
            if len(self._pending) >= 256:
                self.flush_tokens()

    def _secrets(self, fidx: int, order: int, line: int, turns: list[dict], level: int) -> None:
        """Secret/personal-data issues per turn; `level` 1: the whole conversation can hold at most a phone
        number, so only turns with 8+ digits are searched."""
        file = self.files[fidx]
        for t in turns:
            content = t["content"]
            if content.isascii():
                cb = content.encode()
                if (len(cb) - len(cb.translate(None, _DIGITS)) < 8) if level == 1 else not _ascii_sensitive_level(cb):
                    continue
            for kind, masked in find_sensitive(content):
                self.sensitive[kind] += 1
                if len(self.sensitive_lines) < MAX_LINES:
                    self.sensitive_lines.append(line)
                code = "secret" if is_secret(kind) else "personal_data"
                message = f"{kind.replace('_', ' ')} in a {t['role']} turn ({masked})"
                self.issue(order, 2, Issue(line, "", code, message, file))

    def _too_long(self, fidx: int, order: int, line: int, total: int) -> None:
        self.over_count += 1
        cut = total - self.max_seq_len
        self.tokens_cut += cut
        self.issue(order, 3, Issue(line, "", "too_long", f"{total:,} tokens; {cut:,} would be cut at "
                                   f"max_seq_length {self.max_seq_len}", self.files[fidx]))

    def flush_tokens(self) -> None:
        """Count the pending examples with the exact tokenizer (batched: much faster than one by one)."""
        pending = self._pending
        if not pending:
            return
        for (fidx, order, line, _), (total, replies) in zip(pending, self.counter.count([p[3] for p in pending])):
            self.ex_tokens.append(total)
            self.reply_tokens.extend(replies)
            if total > self.max_seq_len:
                self._too_long(fidx, order, line, total)
        pending.clear()

    # --- JSONL ------------------------------------------------------------------------------------------
    def jsonl(self, fidx: int, start: int, end: int, first_line: int, file_fmt: str | None,
              progress=None, progress_base: int = 0, progress_total: int = 0) -> int:
        """Scan the lines of bytes [start, end) of JSONL file `fidx` (start is a line start, numbered
        `first_line`); same findings as `core.data.reader._iter_jsonl` + the checks. Returns lines read."""
        name = self.files[fidx]
        base_order = fidx << ORDER_SHIFT
        line_no = first_line - 1
        off = start
        next_report = start + _PROGRESS_STEP
        rest = b""
        record = self.record
        loads = json.loads
        fast_loads = _orjson_loads if self.use_orjson else None
        with open(name, "rb") as fh:
            fh.seek(start)
            pos = start
            while True:
                want = min(_BLOCK, end - pos)
                block = fh.read(want) if want > 0 else b""
                pos += len(block)
                final = not block
                data = rest + block if rest else block
                if final:
                    if not data:
                        break
                    lines = [data]
                    rest = b""
                else:
                    lines = data.split(b"\n")
                    rest = lines.pop()
                for raw in lines:
                    line_no += 1
                    lstart = off
                    off += len(raw) + 1
                    order = base_order | line_no
                    pre: list[Issue] = []
                    if line_no == 1 and raw.startswith(_BOM):
                        raw = raw[3:]
                        lstart += 3
                        pre.append(bom_issue(name))
                    if fast_loads is not None and not raw.startswith(_BOM) and (
                            len(raw) < 2 * _DEEP or raw.count(b"[") + raw.count(b"{") < _DEEP):
                        try:
                            obj = fast_loads(raw)
                        except ValueError:
                            pass
                        else:
                            if obj is None:
                                self.unreadable(order, pre)
                            else:
                                record(fidx, order, line_no, obj, pre, file_fmt)
                            continue
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        pre.append(invalid_utf8_issue(line_no, raw, exc, lstart, name))
                        self.unreadable(order, pre)
                        continue
                    if not text.strip():
                        pre.append(blank_line_issue(line_no, name))
                        self.unreadable(order, pre)
                        continue
                    try:
                        obj = loads(text) if len(raw) < 2 * _DEEP else _loads_bounded(text, raw)
                    except _JSONDecodeError as exc:
                        pre.append(invalid_json_issue(line_no, text, exc, name))
                        self.unreadable(order, pre)
                        continue
                    except RecursionError:
                        pre.append(too_deep_issue(line_no, name))
                        self.unreadable(order, pre)
                        continue
                    if obj is None:
                        self.unreadable(order, pre)
                        continue
                    record(fidx, order, line_no, obj, pre, file_fmt)
                if progress is not None and off >= next_report:
                    progress(progress_base + off, progress_total)
                    next_report = off + _PROGRESS_STEP
                if final:
                    break
        return line_no - first_line + 1


def _loads_bounded(text: str, raw: bytes):
    """json.loads with exactly _MAX_NESTING levels of stack, whatever the caller's depth."""
    if raw.count(b"[") + raw.count(b"{") < _DEEP:
        return json.loads(text)
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + _MAX_NESTING)
    try:
        return json.loads(text)
    finally:
        sys.setrecursionlimit(old)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def jsonl_window_format(path: Path, window: int) -> str | None:
    """The majority format of the first `window` lines of a JSONL file (what a serial read decides)."""
    from core.data.formats import majority_format

    objs = []
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh):
            if i >= window:
                break
            if i == 0 and raw.startswith(_BOM):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
                if text.strip():
                    objs.append(json.loads(text))
            except (ValueError, RecursionError):
                continue
    return majority_format([o for o in objs if isinstance(o, dict)])
