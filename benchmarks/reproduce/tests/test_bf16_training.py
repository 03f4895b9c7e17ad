"""benchmarks.reproduce.bf16_training: arm D again with amp, judged by the recorded rule."""

from benchmarks.reproduce import bf16_training as bf
from benchmarks.reproduce import recipe_ablation as ra


def test_the_runs_are_arm_d_with_amp_only():
    assert bf.run_name(1) == "recipe-D-bf16-s1"
    assert bf.overrides(1) == [*ra.overrides("D", 1), "amp=true"]
    # the subnet scopes: runs of their own, the scope the only other change
    assert bf.run_name(0, "outer_subnets") == "recipe-D-bf16-outer_subnets-s0"
    assert bf.overrides(0, "subnets") == [*ra.overrides("D", 0), "amp=true", "amp_scope=subnets"]
    assert bf.overrides(0, "loss") == bf.overrides(0)  # the first arm's runs keep their config


def test_the_rule_asks_bfloat16_to_reach_float32_within_the_margins():
    fp32 = {"val_psnr": 31.85, "val_lr_psnr_rgb": 34.24}
    assert bf.verdict({"val_psnr": 31.81, "val_lr_psnr_rgb": 33.80}, fp32) == (
        True,
        "PSNR -0.040 dB, LR fidelity -0.44 dB",
    )
    assert bf.verdict({"val_psnr": 31.89, "val_lr_psnr_rgb": 40.0}, fp32)[0]
    assert not bf.verdict({"val_psnr": 31.79, "val_lr_psnr_rgb": 34.24}, fp32)[0]  # 0.06 dB below
    assert bf.verdict({"val_psnr": 31.91, "val_lr_psnr_rgb": 34.24}, fp32)[0]  # above float32 reaches it
    assert not bf.verdict({"val_psnr": 31.85, "val_lr_psnr_rgb": 33.70}, fp32)[0]


def test_the_fastest_passing_scope_is_chosen():
    speed = {"loss": 1.6, "subnets": 1.58, "outer_subnets": 1.3}
    verdicts = {f"bfloat16 ({s})": {"passes": ok} for s, ok in (("loss", False), ("subnets", True))}
    verdicts["bfloat16 (outer_subnets)"] = {"passes": True}
    assert bf.choice(verdicts, speed) == "subnets"  # loss is faster but fails
    verdicts["bfloat16 (loss)"]["passes"] = True
    assert bf.choice(verdicts, speed) == "loss"
    assert bf.choice({label: {"passes": False} for label in verdicts}, speed) is None


def test_the_step_speed_comes_from_the_committed_results():
    # the three paired measurements the rule reads exist for the config it names
    assert all(bf.step_speedup(scope) > 1 for scope in bf.SCOPES)
