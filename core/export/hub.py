"""Push an export to the Hugging Face Hub with a token read from the environment (HF_TOKEN or
HUGGING_FACE_HUB_TOKEN) at call time; the token is never written anywhere."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import TunewizError

TOKEN_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def hub_token() -> str:
    for var in TOKEN_VARS:
        if os.environ.get(var):
            return os.environ[var]
    raise TunewizError(
        "--push-to-hub needs a Hugging Face token in the HF_TOKEN environment variable",
        hint="create a write token at https://huggingface.co/settings/tokens, then `export HF_TOKEN=...` "
        "(tunewiz reads it for this push only and never stores it)",
    )


def push_folder(folder: str | Path, repo_id: str, *, private: bool = True) -> str:
    """Create `repo_id` if needed (private by default) and upload `folder`; returns the repo URL."""
    if "/" not in repo_id:
        raise TunewizError(f"--push-to-hub {repo_id!r}: expected OWNER/NAME")
    token = hub_token()
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise TunewizError("--push-to-hub: HF_HUB_OFFLINE=1 is set, so the Hub cannot be reached")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        folder = Path(folder)
        if folder.is_file():
            api.upload_file(path_or_fileobj=str(folder), path_in_repo=folder.name, repo_id=repo_id)
        else:
            api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="Upload from tunewiz")
    except Exception as exc:
        raise TunewizError(f"push to {repo_id} failed: {exc}", exit_code=3) from None
    return str(url)
