"""Start-up stays light: the CLI parser and the app import no ML library, and core never imports textual."""

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT, run_cli

HEAVY = ["torch", "transformers", "peft", "trl", "datasets", "bitsandbytes", "unsloth", "accelerate"]


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_cli_and_app_import_no_ml_library():
    loaded = _modules_after(
        "from tunewiz.cli.main import build_parser; build_parser()\n"
        "import tui.app\n"
        "from tui.steps import step_ids, load_screen_class\n"
        "[load_screen_class(s) for s in step_ids()]"
    )
    assert not [m for m in HEAVY if m in loaded]


def test_first_frame_imports_no_ml_library():
    code = (
        "import asyncio, tempfile\n"
        "from tui.app import make_app\n"
        "async def main():\n"
        "    app = make_app(tempfile.mkdtemp())\n"
        "    async with app.run_test(size=(120, 40)) as pilot:\n"
        "        await pilot.pause()\n"
        "asyncio.run(main())"
    )
    loaded = _modules_after(code)
    assert "textual" in loaded
    assert not [m for m in HEAVY if m in loaded]


def test_core_never_imports_textual():
    modules = sorted(p.relative_to(REPO_ROOT).with_suffix("").as_posix().replace("/", ".")
                     for p in (REPO_ROOT / "core").rglob("*.py"))
    modules = [m.removesuffix(".__init__") for m in modules]
    loaded = _modules_after("\n".join(f"import {m}" for m in modules))
    assert "textual" not in loaded  # rich may arrive through trl inside the training backend; textual never


def test_help_and_version_fast_paths():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "ask" in proc.stdout and "doctor" in proc.stdout
    from tunewiz import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"tunewiz {__version__}"
