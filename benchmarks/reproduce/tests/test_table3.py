"""benchmarks.reproduce.table3: the runs of each recipe and seed."""

from benchmarks.reproduce import table3
from benchmarks.reproduce.recipe_ablation import FAST_RECIPE


def test_the_paper_recipe_keeps_its_run_names():
    assert table3.runs()["DU_flow"] == ("sweep-g1e-3", ["model_config.gamma=0.001"])
    assert table3.runs(seed=1)["DU_none"] == ("du-none-x4-s1", ["model_config.guidance=none", "seed=1"])


def test_the_fast_recipe_switches_only_the_guidance_between_its_three_runs():
    fast = table3.runs("fast", seed=1)
    assert [name for name, _ in fast.values()] == ["du-none-x4-fast-s1", "du-bic-x4-fast-s1", "du-flow-x4-fast-s1"]
    guidance = {"DU_none": ["model_config.guidance=none"], "DU_bic": ["model_config.guidance=bicubic"], "DU_flow": []}
    for label, (_, overrides) in fast.items():
        assert overrides == [*FAST_RECIPE, *guidance[label], "seed=1"]
