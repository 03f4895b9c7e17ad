"""benchmarks.reproduce.lr_search: the searched LR of a held-out image, scored beside the plain one."""

import json

import pytest


def test_one_image_one_step_scores_both_lrs(shared_data, monkeypatch, tmp_path):
    from benchmarks.reproduce.lr_search import main

    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    out = tmp_path / "search.json"
    result = main(["--scale", "4", "--steps", "1", "--images", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert result["scale"] == 4 and result["steps"] == 1 and result["images"] == len(result["rows"]) == 1
    row = result["rows"][0]
    assert row["image"].endswith(".png") and row["seconds"] > 0
    # the search never reconstructs worse, and stays within a level of the plain LR's fidelity
    assert row["search"]["psnr"] >= row["plain"]["psnr"]
    assert row["search"]["lr_psnr_rgb"] == pytest.approx(row["plain"]["lr_psnr_rgb"], abs=1.0)
    assert 0 < row["plain"]["exact"] <= 1 and 0 < row["search"]["exact"] <= 1
    assert result["mean"]["plain"] == row["plain"]


def test_an_evaluation_set_in_place_of_the_held_out_images(shared_data, monkeypatch):
    from benchmarks.reproduce.lr_search import main

    monkeypatch.setenv("FLOWKIT_DATA", str(shared_data))
    result = main(["--scale", "4", "--steps", "1", "--images", "1", "--eval-set", "Set5"])
    assert result["eval_set"] == "Set5" and result["images"] == 1
    assert result["rows"][0]["image"] == sorted(p.name for p in (shared_data / "eval" / "Set5").iterdir())[0]
    assert result["rows"][0]["search"]["psnr"] >= result["rows"][0]["plain"]["psnr"]
