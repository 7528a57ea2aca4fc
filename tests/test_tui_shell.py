"""The wizard shell and the Decide step, driven by keyboard in a pilot."""

from core.project import Project
from tui.app import make_app
from tui.screens.decide import DecideScreen


async def test_decide_by_keyboard_persists_and_ticks(project_dir):
    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DecideScreen)
        await pilot.press("tab")  # first question
        await pilot.press("enter")  # "Yes": prompting tried
        await pilot.pause()
        assert app.project.state.decide.answers == {"prompting_tried": "yes"}
        await pilot.press("tab", "right", "enter")  # few-shot works? -> "No, not enough"
        await pilot.pause()
        assert app.project.state.decide.answers["few_shot_works"] == "no"
        sidebar = str(app.screen.query_one("#sidebar").render())
        assert "[x] Prompting alone tried first" in sidebar
    state = Project(project_dir).state
    assert state.decide.answers == {"prompting_tried": "yes", "few_shot_works": "no"}
    assert state.is_ticked("prompting_tried")


async def test_verdict_panel_matches_core(project_dir):
    from core.decide import recommend
    from tests.test_decide import FT_READY

    project = Project(project_dir)
    project.state.decide.answers = dict(FT_READY)
    project.save()
    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        verdict = str(app.screen.query_one("#verdict").render())
        result = recommend(FT_READY)
        assert "Fine-tuning" in verdict
        for reason in result.reasons:
            assert reason.text[:40] in verdict.replace("\n", " ")
        assert str(app.screen.query_one("#continue").label) == "Continue to Data"


async def test_proceeding_against_advice_is_recorded(project_dir):
    project = Project(project_dir)
    project.state.decide.answers = {"prompting_tried": "no"}
    project.save()
    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert str(app.screen.query_one("#continue").label) == "Fine-tune anyway"
        await pilot.click("#continue")
        await pilot.pause()
    state = Project(project_dir).state
    assert state.decide.proceed_against_advice is True
    assert state.decide.recommendation == "better_prompting"


async def test_help_opens_and_closes(project_dir):
    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DecideScreen)


async def test_relaunch_returns_to_saved_step(project_dir):
    project = Project(project_dir)
    project.state.step = "decide"
    project.save()
    app = make_app(project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.step_id == "decide"


def test_every_wizard_step_is_a_step_the_project_file_accepts():
    from core.project import STEPS
    from tui.steps import step_ids

    assert set(step_ids()) <= set(STEPS)
    assert [s for s in STEPS if s in step_ids()] == step_ids()  # same order


async def test_next_and_back_walk_the_main_path_and_persist(project_dir):
    from tui.steps import DETOURS, main_path

    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        seen = [app.screen.step_id]
        for _ in main_path()[1:]:
            app.next_step()
            await pilot.pause()
            seen.append(app.screen.step_id)
        assert seen == main_path() and not set(seen) & set(DETOURS)
        app.previous_step()
        await pilot.pause()
        assert app.screen.step_id == main_path()[-2]
    assert Project(project_dir).state.step == main_path()[-2]


async def test_hosted_is_a_detour_from_plan_back_to_plan_on_to_evaluate(project_dir):
    project = Project(project_dir)
    project.state.step = "plan"
    project.save()
    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.set_focus(None)
        await pilot.press("h")
        await pilot.pause()
        assert app.screen.step_id == "hosted"
        assert "or Hosted (API)" in str(app.screen.query_one("#sidebar").render())
        app.previous_step()
        await pilot.pause()
        assert app.screen.step_id == "plan"
        app.goto("hosted")
        await pilot.pause()
        app.next_step()
        await pilot.pause()
        assert app.screen.step_id == "evaluate"
        app.goto("train")
        await pilot.pause()
        app.next_step()
        await pilot.pause()
        assert app.screen.step_id == "evaluate"  # a finished local run goes on to Evaluate, not Hosted


async def test_escape_leaves_a_text_field_so_back_works(project_dir):
    from textual.widgets import Input

    project = Project(project_dir)
    project.state.step = "data"
    project.save()
    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        field = app.screen.query(Input).first()
        field.focus()
        await pilot.pause()
        await pilot.press("ctrl+left")  # inside the field: word movement, the step stays
        await pilot.pause()
        assert app.screen.step_id == "data"
        await pilot.press("escape", "ctrl+left")
        await pilot.pause()
        assert app.screen.step_id == "decide"


async def test_command_palette_offers_every_step(project_dir):
    from tui.steps import step_ids, step_title

    app = make_app(project_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for step in step_ids():
            assert f"Go to {step_title(step)}" in commands
        commands["Go to Export"].callback()
        await pilot.pause()
        assert app.screen.step_id == "export"
