"""benchmarks.reproduce.shipped: FGRN's margins, the verdict against IRN, and a committed
table that agrees with the shipped cards."""

import json

import pytest

from benchmarks.reproduce import shipped
from benchmarks.reproduce.report import OUT, machine_words
from flowkit.models import model_card


def report(*psnrs):
    return {
        s: {"label": s, "images": 1, "psnr": p, "ssim": 0.5, "draws": 1}
        for s, p in zip(("Set5", "Set14", "BSD100", "Urban100"), psnrs, strict=True)
    }


def card(psnrs, machine):
    budget = {"iterations": 8000, "batch": 8, "patch": 64, "lr": 3e-4, "wall_seconds": 3600.0, "machine": machine}
    return {"evaluation": report(*psnrs), "training": {"budget": budget, "config": {"seed": 1}, "command": "train it"}}


def test_margins_are_fgrn_minus_each_model_per_set():
    diff = shipped.margins(report(32.0, 29.0, 28.0, 26.0), {"irn": report(31.5, 29.5, 28.0, 25.0)})
    assert diff == {"irn": pytest.approx({"Set5": 0.5, "Set14": -0.5, "BSD100": 0.0, "Urban100": 1.0})}


def test_verdict_names_the_sets_where_fgrn_is_behind():
    assert shipped.verdict({"Set5": 0.5, "BSD100": 0.0}) == "FGRN is at least as good as IRN in PSNR on every set."
    line = shipped.verdict({"Set5": 0.68, "Set14": 1.02, "BSD100": -0.374, "Urban100": -0.571})
    assert line == "FGRN is behind IRN in PSNR on 2 of 4 sets: BSD100 (-0.37 dB), Urban100 (-0.57 dB)."


def test_a_section_states_margins_verdict_and_each_budget():
    cards = {
        "irn": card((32.0, 29.0, 29.5, 27.0), {"gpu": "NVIDIA H200"}),
        "fgrn": card((33.0, 30.0, 29.0, 26.0), {"cpu_count": 2, "processor": "x86_64"}),
    }
    text, payload = shipped.section(4, report(28.0, 26.0, 26.0, 23.0), cards)
    assert "| Bicubic & Bicubic | +5.00 | +4.00 | +3.00 | +3.00 |" in text
    assert "| IRN (shipped) | +1.00 | +1.00 | -0.50 | -1.00 |" in text
    assert "behind IRN in PSNR on 2 of 4 sets: BSD100 (-0.50 dB), Urban100 (-1.00 dB)" in text
    assert "- IRN (shipped): 8000 iterations, batch 8, HR patch 64, lr 0.0003; NVIDIA H200; wall time 1.00 h" in text
    assert "2-core CPU (x86_64)" in text and text.count("`train it`") == 2
    assert "| paper | 36.97 / 0.9505 |" in text  # the paper's FGRN x4 beside ours
    assert payload["margins"]["irn"]["Urban100"] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "machine, words",
    [
        ({"gpu": "NVIDIA H200", "cpu_count": 16}, "NVIDIA H200"),
        ({"cpu_count": 2, "processor": "x86_64"}, "2-core CPU (x86_64)"),  # benchmarks.common.machine()
        ({"cpu_count": 2, "torch_threads": 1, "world_size": 1}, "2-core CPU, 1 thread"),  # flowkit train's record
        ({"cpu_count": 16, "torch_threads": 4}, "16-core CPU, 4 threads"),
    ],
)
def test_a_budget_names_the_machine_with_what_its_record_holds(machine, words):
    assert machine_words(machine) == words  # no "(?)" for a field the record lacks


@pytest.mark.parametrize("scale", [2, 4])
def test_the_committed_table_is_the_shipped_cards(scale):
    table = json.loads((OUT / "shipped.json").read_text())[f"x{scale}"]
    for model in ("fgrn", "irn"):
        c = model_card(model, scale)
        assert table["reports"][model] == c["evaluation"], (
            f"rerun python -m benchmarks.reproduce.shipped ({model} x{scale})"
        )
        assert table["budgets"][model] == c["training"]["budget"]


def test_the_lr_table_gives_fidelity_quality_and_the_target():
    reports = {"bicubic": report(28.0, 26.0, 26.0, 23.0), "irn": report(1, 1, 1, 1), "fgrn": report(1, 1, 1, 1)}
    for m, piqe in (("bicubic", 40.0), ("irn", 38.0), ("fgrn", 41.0)):
        for r in reports[m].values():
            r["piqe"], r["niqe"] = piqe, None
    lr = {
        "irn": {s: {"lr_psnr_rgb": 39.0, "lr_psnr_y": 45.0} for s in reports["irn"]},
        "fgrn": {
            s: {"lr_psnr_rgb": v, "lr_psnr_y": v + 6} for s, v in zip(reports["irn"], (25.5, 38.0, 40, 20), strict=True)
        },
    }
    text = shipped.lr_section(reports, lr)
    assert "| FGRN (shipped): LR vs bicubic, RGB / Y (dB) | 25.50 / 31.50 | 38.00 / 44.00 |" in text
    assert "| PIQE of the LR: Bicubic / IRN / FGRN | 40.00 / 38.00 / 41.00 |" in text
    assert "| NIQE of the LR: Bicubic / IRN / FGRN | – / – / – |" in text
    assert (
        "- IRN (shipped): LR's RGB PSNR against the bicubic LR at least 38 dB on 4 of 4 sets; NIQE and PIQE no worse"
        in text
    )
    assert (
        "- FGRN (shipped): LR's RGB PSNR against the bicubic LR at least 38 dB on 2 of 4 sets; worse than Bicubic in "
        "PIQE on Set5, PIQE on Set14, PIQE on BSD100, PIQE on Urban100."
    ) in text


def test_the_round_trip_table_gives_what_the_8bit_lr_costs_and_the_aim():
    fgrn = report(34.0, 31.0, 30.0, 28.0)
    roundtrip = {
        s: {"exact": e, "psnr_exact": fgrn[s]["psnr"] + 0.5}
        for s, e in zip(fgrn, (0.95, 0.9499, 0.8, 0.97), strict=True)
    }
    text = shipped.roundtrip_section(fgrn, roundtrip)
    assert "| recovered exactly (%) | 95.0 | 95.0 | 80.0 | 97.0 |" in text
    assert "| PSNR through the LR / of an exact round trip (dB) | 34.00 / 34.50 | 31.00 / 31.50 |" in text
    assert text.endswith("- At least 95% recovered exactly on 2 of 4 sets.")  # 0.9499 is short of it
    section, payload = shipped.section(
        4,
        report(28.0, 26.0, 26.0, 23.0),
        {
            "irn": card((32.0, 29.0, 29.5, 27.0), {"gpu": "NVIDIA H200"}),
            "fgrn": card(tuple(fgrn[s]["psnr"] for s in fgrn), {"gpu": "NVIDIA H200"}),
        },
        roundtrip=roundtrip,
    )
    assert text in section and payload["fgrn_roundtrip"] == roundtrip


@pytest.mark.parametrize("scale", [2, 4])
def test_the_committed_round_trip_table_is_the_shipped_weights(scale):
    payload = json.loads((OUT / "shipped.json").read_text())[f"x{scale}"]
    assert payload["sha256"]["fgrn"] == model_card("fgrn", scale)["sha256"], (
        "rerun python -m benchmarks.reproduce.shipped"
    )
    table = payload["fgrn_roundtrip"]
    assert set(table) == {"Set5", "Set14", "BSD100", "Urban100"}
    assert all(0.0 < r["exact"] <= 1.0 for r in table.values())


def test_the_verdict_says_when_the_budgets_differ():
    same = {"iterations": 8000, "patches": 64000}
    line = shipped.verdict({"Set5": 0.5}, {"fgrn": same, "irn": same})
    assert line == "FGRN is at least as good as IRN in PSNR on every set."
    line = shipped.verdict({"Set5": 0.5}, {"fgrn": {"iterations": 10750, "patches": 86000}, "irn": same})
    assert line.endswith("The budgets differ: FGRN 10750 iterations (86000 patches), IRN 8000 (64000 patches).")
    # equal patch counts of unequal sizes are unequal budgets
    bigger = {"iterations": 2000, "patches": 64000, "hr_megapixels": 1048.6}
    line = shipped.verdict({"Set5": 0.5}, {"fgrn": same | {"hr_megapixels": 262.1}, "irn": bigger})
    assert line.endswith(
        "The budgets differ: FGRN 8000 iterations (64000 patches, 262.1 HR megapixels), "
        "IRN 2000 (64000 patches, 1048.6 HR megapixels)."
    )
    irn = card((32.0, 29.0, 29.5, 27.0), {"gpu": "NVIDIA H200"})
    fgrn = card((33.0, 30.0, 29.0, 26.0), {"cpu_count": 2, "processor": "x86_64"})
    fgrn["ledger"] = [
        {
            "run": "first",
            "iterations": 8000,
            "batch": 8,
            "patch": 64,
            "device": "2-core CPU, 1 thread",
            "minutes": 37.3,
            "started_from": "random initialisation",
            "seed": 0,
            "frozen": ["gd", "flow"],
        },
        {
            "run": "more",
            "iterations": 2750,
            "batch": 8,
            "patch": 64,
            "device": "CPU",
            "minutes": 26.3,
            "started_from": "fgrn-x4 (sha256 e2dbce252541)",
            "seed": 0,
        },
    ]
    fgrn["ledger_total"] = {"runs": 2, "iterations": 10750, "patches": 86000, "minutes": 63.6}
    text, _ = shipped.section(4, report(28.0, 26.0, 26.0, 23.0), {"irn": irn, "fgrn": fgrn})
    assert (
        "The budgets differ: FGRN 10750 iterations (86000 patches, 352.3 HR megapixels), IRN 8000 (64000 patches, "
        "262.1 HR megapixels)." in text
    )
    assert (
        "  - after first: 8000 iterations, batch 8, HR patch 64, 2-core CPU, 1 thread, 37 min, from random "
        "initialisation, gd and flow frozen\n  - in all: 10750 iterations over 2 runs"
    ) in text


def test_the_paired_quality_table_reads_each_image_against_bicubic():
    reports = {"bicubic": report(28.0, 26.0, 26.0, 23.0), "fgrn": report(33, 30, 30, 28)}
    for r in reports["fgrn"].values():
        r["piqe"], r["niqe"] = 41.0, None  # the card's; Set5's pairs above average 41.2
    steady = [[41.0 + 0.1 * i, 40.0] for i in range(5)]  # worse on every image, by 1.0 to 1.4
    scattered = [[40.0 + d, 40.0] for d in (3.0, -3.0, 2.0, -1.0)]  # worse on average, by +0.25
    quality = {
        "fgrn": {
            "Set5": {"piqe": steady, "niqe": []},
            "Set14": {"piqe": scattered, "niqe": [[5.0, 6.0]]},
            "BSD100": {"piqe": [[39.0, 40.0], [38.0, 40.0]], "niqe": [[6.0, 6.0], [6.0, 6.0]]},
            "Urban100": {"piqe": scattered, "niqe": steady},
        }
    }
    assert shipped.paired(steady) == pytest.approx((1.2, (0.025 / 5) ** 0.5, 5, 5))
    assert shipped.paired([]) is None and shipped.paired([[5.0, 6.0]]) == (-1.0, None, 0, 1)
    text = shipped.quality_section(quality, reports)
    assert "| FGRN (shipped), PIQE | +1.20 ± 0.07 (5/5) | +0.25 ± 1.38 (2/4) | -1.50 ± 0.50 (0/2) |" in text
    assert "| FGRN (shipped), NIQE | – | -1.00 (0/1) | +0.00 ± 0.00 (0/2) | +1.20 ± 0.07 (5/5) |" in text
    # worse beyond two standard errors only where every image agrees; not the scattered +0.25, not a tie
    assert (
        "- FGRN (shipped): worse than Bicubic by more than 2 standard errors in PIQE on Set5, NIQE on Urban100.\n"
    ) in text
    assert text.endswith("the set means here are up to 2.50 from the cards'.")  # BSD100's 38.5 against 41.0
    fgrn_card = card((33, 30, 30, 28), {"gpu": "H200"}) | {"evaluation": reports["fgrn"]}
    section, payload = shipped.section(
        4,
        reports["bicubic"],
        {"irn": card((32.0, 29.0, 29.5, 27.0), {"gpu": "H200"}), "fgrn": fgrn_card},
        quality=quality,
    )
    assert text in section
    assert payload["lr_quality_paired"]["fgrn"]["Set5"]["niqe"] is None
    assert payload["lr_quality_paired"]["fgrn"]["Set5"]["piqe"] == pytest.approx(shipped.paired(steady))
