"""records.toml: the study's decisions as data agree with the shipped cards and the study's configs."""

import pytest

from benchmarks.reproduce import records
from benchmarks.reproduce.common import CONFIGS
from benchmarks.reproduce.ship_weights import training_command
from flowkit.models import available, model_card


def test_every_shipped_model_has_one_run_and_every_run_ships_a_model():
    assert sorted(records.SHIPPED_RUNS) == sorted(available())


@pytest.mark.parametrize("model_scale", sorted(records.SHIPPED_RUNS))
def test_each_cards_command_is_the_record_of_the_run_it_came_from(model_scale):
    card = model_card(*model_scale)
    assert card["training"]["command"] == training_command(records.SHIPPED_RUNS[model_scale])


@pytest.mark.parametrize("model_scale", sorted(records.SHIPPED_RUNS))
def test_each_cards_notes_end_with_the_note_of_its_run_one_space_after_a_sentence(model_scale):
    notes = model_card(*model_scale)["notes"]
    note = records.RUN_NOTES.get(records.SHIPPED_RUNS[model_scale])
    if note is not None:
        assert notes.endswith(". " + note)
    assert ".T" not in notes and "  " not in notes


def test_a_continuing_run_records_its_command_and_note():
    assert records.CONTINUING_RUNS and records.CONTINUING_RUNS <= set(records.RUN_COMMANDS)
    assert "fast-fgrn-x4-continue" in records.CONTINUING_RUNS and "fast-fgrn-x4" not in records.CONTINUING_RUNS


@pytest.mark.parametrize("name", list(records.GPU_RUNS))
def test_every_gpu_run_starts_from_a_study_config(name):
    run = records.GPU_RUNS[name]
    assert (CONFIGS / f"{run.base}.json").is_file() and run.label
    assert all("=" in o for o in run.overrides)


def test_an_untagged_gpu_budget_is_recorded():
    assert "" in records.GPU_BUDGETS and all(records.GPU_BUDGETS.values())


def test_gpu_budget_trains_the_paper_recipe_study_by_default():
    from benchmarks.reproduce.records import GPU_DEFAULT_RUNS, GPU_RUNS

    assert set(GPU_DEFAULT_RUNS) < set(GPU_RUNS) and len(GPU_DEFAULT_RUNS) == 5
    assert not any("fast" in run or "generic" in run for run in GPU_DEFAULT_RUNS)
