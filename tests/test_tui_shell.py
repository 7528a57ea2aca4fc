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
