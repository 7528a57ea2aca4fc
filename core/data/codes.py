"""Every problem `tunewiz check` can report: a stable code, its severity, and the plain-English fix.

Codes are part of the `--json` contract; never rename one. Coverage of other checkers (so users moving
from them lose nothing):

OpenAI cookbook, "Data preparation and analysis for chat model fine-tuning" (format error counters):
    data_type                          -> not_object
    missing_messages_list              -> missing_messages
    message_missing_key                -> missing_role / missing_content
    message_unrecognized_key           -> unknown_key (warning: extra keys are ignored by training)
    unrecognized_role                  -> unknown_role
    missing_content                    -> missing_content / content_not_string
    example_missing_assistant_message  -> no_assistant_turn
    (warnings) missing system message  -> stats.system_prompts (share of examples with one)
    (warnings) missing user message    -> no_user_turn
    (warnings) examples over the token limit and will be truncated -> too_long (with tokens cut)

`together` SDK `check_file` (3.x client checks plus the conversation rules of its 1.x checker and docs):
    File not found / not a regular file -> TunewizError, exit 2 (the CLI's "cannot be read")
    File is empty                       -> empty_file (exit 2: nothing to check)
    File too large                      -> not an error here: files are streamed, any size works
    Unknown extension                   -> TunewizError, exit 2 (lists the supported extensions)
    File is not UTF-8 encoded           -> invalid_utf8 (per line, with the byte offset)
    Error parsing json payload on line N -> invalid_json (with line and column, and every such line)
    Each line must be a JSON object     -> not_object
    Min samples / has_min_samples       -> too_few_examples (warning, with the guide's quantity verdict)
    CSV columns inconsistent with header -> csv_malformed
    Parquet load / unexpected columns   -> TunewizError exit 2 / unknown_format
    No recognized format (text, messages, prompt+completion) -> unknown_format
    More than one dataset format in a file -> mixed_formats
    Column value must be a string       -> field_not_string / content_not_string
    messages must be a list of dicts    -> missing_messages / message_not_object
    Message missing role / content      -> missing_role / missing_content
    Invalid role                        -> unknown_role
    Roles must alternate user/assistant -> roles_not_alternating
    Must start with system or user      -> system_not_first / roles_not_alternating
    weight must be 0 or 1               -> invalid_weight
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    fix: str


_CODES = [
    # --- reading the file --------------------------------------------------------------------------------
    Code("invalid_utf8", ERROR, "line is not valid UTF-8",
         "Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.jsonl > out.jsonl`) or drop the line."),
    Code("invalid_json", ERROR, "line is not valid JSON",
         "Each line must be one complete JSON object; look for a missing quote, comma or brace at the column shown, "
         "or a record split over several lines."),
    Code("not_object", ERROR, "record is not a JSON object",
         'Wrap the record in an object, e.g. {"messages": [...]}.'),
    Code("empty_file", ERROR, "the file holds no records", "Point tunewiz at a file with at least one example."),
    Code("csv_malformed", ERROR, "CSV row does not match the header",
         "Quote fields that contain commas or newlines; every row needs as many columns as the header."),
    Code("byte_order_mark", WARNING, "file starts with a byte-order mark",
         "Harmless here, but some tools choke on it: re-save as UTF-8 without BOM."),
    Code("blank_line", WARNING, "blank line", "Delete blank lines; they are skipped."),
    # --- format --------------------------------------------------------------------------------------------
    Code("unknown_format", ERROR, "record matches no known format",
         "Use one of: messages (OpenAI chat), conversations (ShareGPT), instruction/input/output (Alpaca), "
         "prompt/completion, or text."),
    Code("mixed_formats", ERROR, "record uses a different format from the rest of the file",
         "Convert every record to one format (`tunewiz clean --to-messages` writes all as messages)."),
    Code("unknown_key", WARNING, "unknown key (ignored by training)",
         "Remove the key, or check its spelling (e.g. 'content' not 'contents')."),
    Code("field_not_string", ERROR, "field is not a string", "Make the field a JSON string."),
    Code("empty_field", ERROR, "field is empty", "Fill in the text or drop the example."),
    # --- conversations -------------------------------------------------------------------------------------
    Code("missing_messages", ERROR, "missing or empty message list",
         'Give the record a non-empty list, e.g. "messages": [{"role": "user", ...}, {"role": "assistant", ...}].'),
    Code("message_not_object", ERROR, "message is not an object",
         'Each message must be an object like {"role": "user", "content": "..."}.'),
    Code("missing_role", ERROR, "message has no role", 'Add "role": one of system, user, assistant, tool.'),
    Code("unknown_role", ERROR, "unknown role", "Use one of system, user, assistant, tool."),
    Code("missing_content", ERROR, "message has no content", 'Add "content": "..." to the message.'),
    Code("content_not_string", ERROR, "content is not text",
         "Content must be a string or a list of {\"type\": \"text\", \"text\": \"...\"} parts."),
    Code("no_assistant_turn", ERROR, "no assistant turn",
         "Add the reply you want the model to learn as an assistant message; without one nothing is trained."),
    Code("no_user_turn", WARNING, "no user turn", "Add the user's message that the assistant answers."),
    Code("last_turn_not_assistant", ERROR, "conversation does not end with the assistant",
         "End with the assistant's reply; trailing user turns teach nothing and are cut."),
    Code("roles_not_alternating", ERROR, "roles do not alternate",
         "After the optional system message, turns must go user, assistant, user, assistant... "
         "Merge consecutive messages from the same role."),
    Code("empty_assistant_turn", ERROR, "empty assistant reply",
         "Write the reply, or drop the example: an empty target teaches the model to say nothing."),
    Code("whitespace_turn", WARNING, "turn is empty or whitespace only", "Fill in the turn or remove it."),
    Code("system_not_first", ERROR, "system message is not first", "Move the system message to the start."),
    Code("invalid_weight", ERROR, "weight must be 0 or 1", "Set weight to 0 (do not train on this turn) or 1."),
    # --- quality -------------------------------------------------------------------------------------------
    Code("too_long", WARNING, "longer than max_seq_length",
         "Raise max_seq_length (see the recommendation), shorten the example, or accept that its end is cut."),
    Code("duplicate", WARNING, "exact duplicate of an earlier example",
         "Drop duplicates (`tunewiz split` does it before splitting); they overweight one example."),
    Code("near_duplicate", WARNING, "near duplicate of an earlier example",
         "Check whether both are needed; near copies add little and can leak between train and validation."),
    Code("conflicting_answers", WARNING, "same prompt as an earlier example with a different answer",
         "Decide which answer is right and keep one; conflicting labels teach the model to hedge."),
    Code("reply_format_inconsistent", WARNING, "reply format differs from most replies",
         "Most replies are JSON but this one is not: fix it so the model learns one format."),
    Code("secret", WARNING, "looks like a secret (API key, token or private key)",
         "Remove or mask it: a fine-tuned model can repeat its training data verbatim."),
    Code("personal_data", WARNING, "looks like personal data (email or phone number)",
         "Mask it (e.g. user@example.com) unless you are allowed to train on it: the model may repeat it."),
    Code("too_few_examples", WARNING, "too few examples",
         "The guide: don't fine-tune with fewer than 100 examples; collect more or use prompting."),
    Code("leakage", WARNING, "example is in both train and validation",
         "Deduplicate before splitting (`tunewiz split` does) so validation measures unseen data."),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}


def severity(code: str) -> str:
    return CODES[code].severity


def fix_for(code: str) -> str:
    return CODES[code].fix


@dataclass(slots=True)
class Issue:
    """One problem at one place: `line` is the 1-based physical line in `file` (for a JSON array or CSV, the
    line where the record starts; for Parquet and hub datasets, the 1-based row), or None for file-wide
    findings. `field` is a path such as `messages[2].content` ("" for the whole record)."""

    line: int | None
    field: str
    code: str
    message: str
    file: str | None = None

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    @property
    def fix(self) -> str:
        return CODES[self.code].fix

    def to_json(self, with_file: bool = False) -> dict:
        out = {"line": self.line, "field": self.field, "code": self.code, "message": f"{self.message}. Fix: {self.fix}"}
        if with_file:
            out["file"] = self.file
        return out
