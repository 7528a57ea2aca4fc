"""Exports of a finished tiny-model run: adapter, merged, GGUF (with the q/k permutation proof),
Ollama Modelfile stops, Axolotl YAML, Hub token handling."""

import os
import stat
from pathlib import Path

import pytest
import torch

from core.errors import TunewizError
from core.export import gguf_file
from core.export.runner import check_request, export_run, read_exports
from core.runs import RunDir


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


@pytest.fixture
def probe(tiny_model_dir):
    from transformers import AutoTokenizer

    return gguf_file.probe_ids(AutoTokenizer.from_pretrained(str(tiny_model_dir)))


def _adapter_model(run_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from core.evaluate.loading import run_config

    base = AutoModelForCausalLM.from_pretrained(run_config(RunDir(run_dir)).base_model, dtype=torch.float32)
    return PeftModel.from_pretrained(base, str(run_dir / "adapter")).eval()


def test_adapter_export_loads_with_peft(finished_run_dir, tmp_path, probe):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from core.evaluate.loading import run_config

    entry = export_run(RunDir(finished_run_dir), "adapter", out=tmp_path / "adapter-out")
    assert entry["verify"]["ok"] and (tmp_path / "adapter-out" / "adapter_config.json").exists()
    base = AutoModelForCausalLM.from_pretrained(run_config(RunDir(finished_run_dir)).base_model, dtype=torch.float32)
    exported = PeftModel.from_pretrained(base, entry["path"]).eval()
    assert torch.allclose(_logits(exported, probe), _logits(_adapter_model(finished_run_dir), probe))
    assert read_exports(RunDir(finished_run_dir))[-1]["format"] == "adapter"


def test_merged_export_matches_adapter_model(finished_run_dir, tiny_model_dir, probe):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    entry = export_run(RunDir(finished_run_dir), "merged")
    out = Path(entry["path"])
    assert list(out.glob("*.safetensors")) and entry["verify"]["ok"]
    merged = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    expected = _logits(_adapter_model(finished_run_dir), probe)
    assert torch.allclose(_logits(merged, probe), expected, atol=1e-4)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    assert (_logits(base, probe) - expected).abs().max() > 0.1  # the merge really changed the weights
    assert AutoTokenizer.from_pretrained(str(out)).chat_template  # tokenizer and chat template travel along


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_gguf_export_reloads_and_matches(finished_run_dir, probe, quant):
    from gguf import GGUFReader
    from transformers import AutoModelForCausalLM, AutoTokenizer

    entry = export_run(RunDir(finished_run_dir), "gguf", quant=quant, ollama=True)
    file = Path(entry["path"])
    assert file.suffix == ".gguf" and entry["verify"]["ok"]
    merged_dir = Path(entry["merged"])
    merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32).eval()
    loaded = AutoModelForCausalLM.from_pretrained(str(file.parent), gguf_file=file.name, dtype=torch.float32).eval()
    got, want = _logits(loaded, probe), _logits(merged, probe)
    assert float((got - want).norm() / want.norm()) < gguf_file.TOLERANCE[quant]
    assert (got.argmax(-1) == want.argmax(-1)).float().mean() > 0.9

    tokenizer = AutoTokenizer.from_pretrained(str(merged_dir))
    reader = GGUFReader(str(file))

    def field(name):
        f = reader.fields[name]
        return [f.contents(i) for i in range(len(f.data))] if len(f.data) > 1 else f.contents()

    assert field("general.architecture") == "llama"
    assert field("tokenizer.ggml.model") == "gpt2"
    tokens = field("tokenizer.ggml.tokens")
    vocab = tokenizer.get_vocab()
    assert all(tokens[i] == t for t, i in vocab.items())
    assert field("tokenizer.chat_template") == tokenizer.chat_template
    assert field("tokenizer.ggml.eos_token_id") == tokenizer.eos_token_id
    assert field("tokenizer.ggml.eot_token_id") == tokenizer.convert_tokens_to_ids("<|im_end|>")
    types = field("tokenizer.ggml.token_type")
    assert types[tokenizer.convert_tokens_to_ids("<|im_end|>")] == 3  # control token
    gguf_tok = AutoTokenizer.from_pretrained(str(file.parent), gguf_file=file.name)
    text = "<|im_start|>user\nWhat color is the sky? {\"a\": 1}<|im_end|>\n"
    assert gguf_tok(text)["input_ids"] == tokenizer(text)["input_ids"]


@pytest.fixture(scope="module")
def sharp_model_dir(tmp_path_factory, tiny_model_dir):
    """The tiny model with q/k scaled up so attention is far from uniform; with near-uniform attention
    a wrong q/k layout barely changes the logits and the permutation test could not fail."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(30)
            layer.self_attn.k_proj.weight.mul_(30)
    out = tmp_path_factory.mktemp("sharp") / "model"
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(out)
    return out


def test_gguf_needs_qk_permutation(sharp_model_dir, tmp_path):
    good = gguf_file.write_gguf(sharp_model_dir, tmp_path / "good.gguf", "f16")
    bad = gguf_file.write_gguf(sharp_model_dir, tmp_path / "nopermute" / "bad.gguf", "f16", permute=False)
    ok = gguf_file.verify_gguf(good, sharp_model_dir, "f16")
    wrong = gguf_file.verify_gguf(bad, sharp_model_dir, "f16")
    assert ok["ok"] and ok["rel_error"] < 5e-3
    assert not wrong["ok"] and wrong["rel_error"] > 0.1


def test_permute_inverts_transformers_reader():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = torch.randn(4 * 8, 16).numpy()
    back = LlamaTensorProcessor({})._reverse_permute_weights(gguf_file.permute_qk(w, 4, 2), 4, 2)
    assert (back == w).all()


def test_unsupported_architecture_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}')
    with pytest.raises(TunewizError, match="llama-family.*GPT2LMHeadModel"):
        gguf_file.write_gguf(tmp_path, tmp_path / "x.gguf")


def test_k_quants_without_llama_cpp_say_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    with pytest.raises(TunewizError) as info:
        check_request("gguf", "q4_k_m", False)
    assert "llama-quantize" in str(info.value) and "install llama.cpp" in str(info.value)
    assert check_request("gguf", "q4_0", False) == "q4_0"
    with pytest.raises(TunewizError, match="--quant"):
        check_request("merged", "q8_0", False)


def test_k_quant_runs_llama_quantize(finished_run_dir, tmp_path, monkeypatch):
    """A stand-in `llama-quantize` (copies its input) proves the hand-off: arguments, output, verification."""
    tool_dir = tmp_path / "bin"
    tool_dir.mkdir()
    tool = tool_dir / "llama-quantize"
    tool.write_text('#!/bin/sh\necho "$@" > "$(dirname "$2")/args.txt"\ncp "$1" "$2"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tool_dir}{os.pathsep}{os.environ['PATH']}")
    entry = export_run(RunDir(finished_run_dir), "gguf", quant="q4_k_m", out=tmp_path / "kq")
    file = Path(entry["path"])
    assert file.name.endswith("-q4_k_m.gguf") and entry["verify"]["ok"]
    args = (file.parent / "args.txt").read_text().split()
    assert args[-1] == "Q4_K_M" and args[0].endswith(".f16-tmp.gguf")
    assert not Path(args[0]).exists()  # the intermediate f16 file is cleaned up


def test_modelfile_stops_cover_eos_and_turn_end(finished_run_dir, tmp_path):
    from transformers import AutoTokenizer

    from core.export.ollama import modelfile_text, parse_stops

    tokenizer = AutoTokenizer.from_pretrained(str(finished_run_dir / "adapter"))
    text = modelfile_text("./model.gguf", tokenizer)
    stops = parse_stops(text)
    assert tokenizer.eos_token in stops and "<|im_end|>" in stops and "<|im_start|>" in stops
    assert "FROM ./model.gguf" in text.splitlines()
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert "<|im_start|>user\n{{ .Content }}<|im_end|>\n" in template
    assert '{{ if and $last (ne .Role "assistant") }}<|im_start|>assistant\n{{ end }}' in template
    assert "{{-" not in template  # trim markers would eat the template's newlines


def test_ollama_flag_writes_modelfile_next_to_gguf(finished_run_dir, tmp_path):
    entry = export_run(RunDir(finished_run_dir), "gguf", quant="q4_0", ollama=True, out=tmp_path / "ollama")
    modelfile = Path(entry["modelfile"])
    assert modelfile.parent == Path(entry["path"]).parent
    assert f"FROM ./{Path(entry['path']).name}" in modelfile.read_text()


def test_axolotl_config_carries_every_choice(finished_run_dir, tmp_path):
    import yaml

    from core.evaluate.loading import run_config
    from core.export.axolotl import write_axolotl_config

    config = run_config(RunDir(finished_run_dir))
    data = yaml.safe_load(write_axolotl_config(config, tmp_path / "axolotl.yaml").read_text())
    assert data["base_model"] == config.base_model and data["adapter"] == "lora"
    assert data["load_in_4bit"] is False
    assert (data["lora_r"], data["lora_alpha"], data["lora_dropout"]) == (config.lora_r, config.lora_alpha, config.lora_dropout)
    assert data["lora_target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    ds = data["datasets"][0]
    assert ds["path"] == config.train_file and ds["type"] == "chat_template" and ds["field_messages"] == "messages"
    assert ds["message_property_mappings"] == {"role": "role", "content": "content"}
    assert data["test_datasets"][0]["path"] == config.val_file and data["val_set_size"] == 0.0
    assert data["sequence_len"] == config.max_seq_length and data["micro_batch_size"] == config.batch_size
    assert data["gradient_accumulation_steps"] == config.grad_accum and data["num_epochs"] == config.epochs
    assert data["learning_rate"] == config.learning_rate and data["output_dir"]
    assert data["max_steps"] == config.max_steps and data["train_on_inputs"] is False
    qlora = yaml.safe_load(write_axolotl_config(config.model_copy(update={"method": "qlora", "bits": 4}),
                                                tmp_path / "q.yaml").read_text())
    assert qlora["adapter"] == "qlora" and qlora["load_in_4bit"] is True


def test_push_to_hub_without_token_fails_before_work(finished_run_dir, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    with pytest.raises(TunewizError, match="HF_TOKEN"):
        export_run(RunDir(finished_run_dir), "merged", push_to_hub="me/model")
    assert not (finished_run_dir / "export").exists()
