"""The eval, export and export-config commands, run in-process through `tunewiz.cli.main.main`."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from tunewiz.cli import main as cli_main


@pytest.fixture
def cli(monkeypatch, capsys):
    """Call `tunewiz ARGS` in this process (the tiny model is already imported, so it stays fast); returns
    (exit code, stdout, stderr). Commands from other areas that are not on this branch yet are left out."""
    present = [c for c in cli_main.COMMANDS if importlib.util.find_spec(f"tunewiz.cli.{c}") is not None]
    monkeypatch.setattr(cli_main, "COMMANDS", present)

    def call(*args):
        code = cli_main.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_help_lists_commands(cli):
    with pytest.raises(SystemExit):
        cli("--help")
    # argparse printed to stdout before exiting
    for name in ("eval", "export", "export-config"):
        assert name in cli_main.build_parser().format_help()


def test_eval_json_and_checklist(cli, finished_run_dir, project_dir):
    from core.project import Project

    Project(project_dir).save()
    code, out, err = cli("eval", finished_run_dir.name, "--runs-dir", str(finished_run_dir.parent), "--n", "2",
                         "--max-new-tokens", "10", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["n"] == 2 and data["loss"]["tuned"]["loss"] < data["loss"]["base"]["loss"]
    assert (finished_run_dir / "eval.json").exists()
    state = Project(project_dir).state
    assert state.is_ticked("evaluated") and state.evaluate["run_id"] == finished_run_dir.name


def test_eval_summary_and_bad_regex(cli, finished_run_dir):
    code, out, err = cli("eval", str(finished_run_dir), "--n", "2", "--max-new-tokens", "8", "--regex", "color")
    assert code == 0, err
    assert "val loss" in out and "regex match" in out and "reference:" in out
    code, out, err = cli("eval", str(finished_run_dir), "--regex", "(")
    assert code == 2 and "not a valid regular expression" in err and "Traceback" not in err


def test_eval_unknown_run_is_a_clear_error(cli, finished_run_dir):
    code, _, err = cli("eval", "nope", "--runs-dir", str(finished_run_dir.parent))
    assert code == 2 and "no run matches 'nope'" in err


def test_export_gguf_with_ollama(cli, finished_run_dir, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = cli("export", str(finished_run_dir), "--format", "gguf", "--quant", "q8_0", "--ollama",
                         "--out", str(out_dir))
    assert code == 0, err
    ggufs = list(out_dir.glob("*.gguf"))
    assert len(ggufs) == 1 and ggufs[0].name.endswith("-q8_0.gguf")
    assert (out_dir / "Modelfile").exists() and "verified" in out and "ollama create" in out
    record = json.loads((finished_run_dir / "export.json").read_text())["exports"][-1]
    assert record["format"] == "gguf" and record["quant"] == "q8_0" and record["verify"]["ok"]


def test_export_errors(cli, finished_run_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    code, _, err = cli("export", str(finished_run_dir), "--format", "merged", "--push-to-hub", "me/x")
    assert code == 2 and "HF_TOKEN" in err and "never stores" in err
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = cli("export", str(finished_run_dir), "--format", "gguf", "--quant", "q5_k_m")
    assert code == 2 and "llama-quantize" in err and "install" in err
    code, _, err = cli("export", str(finished_run_dir), "--format", "adapter", "--ollama")
    assert code == 2 and "--ollama" in err


def test_export_config_axolotl(cli, finished_run_dir):
    code, out, err = cli("export-config", str(finished_run_dir), "--axolotl")
    assert code == 0, err
    data = yaml.safe_load((finished_run_dir / "axolotl.yaml").read_text())
    assert data["datasets"][0]["type"] == "chat_template" and "accelerate launch" in out


def test_cli_imports_stay_light():
    """Building the parser (what `tunewiz --help` does) must not import torch and friends."""
    import subprocess
    import sys

    code = ("import sys; from tunewiz.cli import main as m; import importlib.util; "
            "m.COMMANDS[:] = [c for c in m.COMMANDS if importlib.util.find_spec('tunewiz.cli.' + c)]; m.build_parser(); "
            "import core.evaluate, core.export, core.evaluate.ab, core.evaluate.metrics, core.export.runner; "
            "heavy = [x for x in ('torch', 'transformers', 'peft', 'gguf', 'numpy') if x in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "[]", out.stderr
