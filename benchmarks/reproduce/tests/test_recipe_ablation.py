"""benchmarks.reproduce.recipe_ablation: the recorded decision rule, applied to seed means."""

from benchmarks.reproduce import recipe_ablation as ra


def _score(psnr, lr):
    return {"val_psnr": psnr, "val_lr_psnr_rgb": lr}


def test_the_standing_rule_needs_a_psnr_gain_or_a_free_lr_gain():
    parent = _score(31.0, 34.0)
    assert ra.verdict(_score(31.06, 30.0), parent)[0]  # +0.06 dB PSNR, whatever the LR
    assert ra.verdict(_score(30.96, 35.0), parent)[0]  # -0.04 dB with +1 dB LR
    assert not ra.verdict(_score(30.94, 40.0), parent)[0]
    assert not ra.verdict(_score(31.04, 34.9), parent)[0]


def test_the_trade_clause_applies_only_to_arms_allowed_to_trade():
    parent = _score(31.0, 34.0)
    traded = _score(30.8, 36.01)  # -0.2 dB for +2.01 dB: ten times
    assert ra.verdict(traded, parent, trade=True) == (True, "PSNR -0.20 dB traded for LR fidelity +2.01 dB")
    assert not ra.verdict(traded, parent)[0]
    assert not ra.verdict(_score(30.8, 35.9), parent, trade=True)[0]  # less than ten times
    assert not ra.verdict(_score(30.74, 40.0), parent, trade=True)[0]  # beyond -0.25 dB
    assert not ra.verdict(_score(30.98, 34.5), parent, trade=True)[0]  # +0.5 dB LR is under the +1 dB floor
    # the arms that trade all build on the fast recipe (D) with L_guide reaching Gd or more
    assert set(ra.TRADE_ARMS) <= set(ra.ARMS) and all(ra.ARMS[a][0] in ("D", "F") for a in ra.TRADE_ARMS)
    assert all(set(ra.ARMS[a][2]) > set(ra.ARMS["D"][2]) for a in ra.TRADE_ARMS)


def test_every_arm_runs_the_same_budget_and_differs_from_its_parent():
    for arm, (parent, _, overrides) in ra.ARMS.items():
        run = ra.overrides(arm, 0)
        assert run[: len(ra.BUDGET)] == ra.BUDGET and run[-1] == "seed=0"
        if parent is not None:
            assert set(overrides) > set(ra.ARMS[parent][2])


def test_the_generic_irn_config_is_the_study_config_plus_the_generic_recipe():
    # the IRN x4 generic run (8000 steps, fast-fgrn-x4's budget) and Table 4's fast runs share the generic parts
    from benchmarks.reproduce.common import CONFIGS
    from flowkit.train.config import load_config

    generic = load_config(CONFIGS / "irn-x4-generic.json").to_dict()
    study = load_config(
        CONFIGS / "irn-x4.json", [*ra.GENERIC_RECIPE, "iterations=8000", "val_every=1000", "keep_last=3"]
    ).to_dict()
    assert generic == study
    assert ra.FAST_RECIPE[-len(ra.GENERIC_RECIPE) :] == ra.GENERIC_RECIPE
