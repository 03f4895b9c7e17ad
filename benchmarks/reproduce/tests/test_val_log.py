import json

import pytest

from benchmarks.reproduce import val_log

LOG = [
    {"step": 50, "exact": 0.8, "logdet": -0.01},
    {"step": 100, "exact": 0.9, "logdet": 0.01, "roundtrip": 0.2},
    {"step": 150, "exact": 1.0, "logdet": 0.03, "roundtrip": 0.1},
    {"step": 150, "val_psnr": 33.456, "val_lr_psnr_rgb": 41.234},
    {"step": 200, "exact": 0.7, "logdet": 0.05},
    {"step": 300, "exact": 0.5, "logdet": 0.07},
    {"step": 300, "val_psnr": 34.0, "val_lr_psnr_rgb": 41.5},
]


def test_each_validation_step_gets_the_means_of_the_window_before_it():
    table = val_log.rows(LOG, ["exact", "logdet", "roundtrip"], window=100)
    assert [r["step"] for r in table] == [150, 300]
    first, second = table
    assert first["val_psnr"] == 33.456 and first["val_lr_psnr_rgb"] == 41.234
    assert first["exact"] == pytest.approx(0.95)  # steps 100 and 150; 50 is outside (50, 150]
    assert first["logdet"] == pytest.approx(0.02)
    assert first["roundtrip"] == pytest.approx(0.15)
    assert second["exact"] == pytest.approx(0.5)  # step 300 only: 200 is outside (200, 300]
    assert second["roundtrip"] is None  # no record in (200, 300] carries it


def test_the_markdown_rounds_as_the_rule_files_do_and_leaves_missing_cells_empty(tmp_path, capsys):
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in LOG) + "\n")
    text = val_log.main([str(tmp_path), "--window", "100"])
    assert capsys.readouterr().out.strip() == text
    lines = text.splitlines()
    assert lines[0] == "| step | validation PSNR | LR vs bicubic (RGB) | exact | F log-det / elem | roundtrip |"
    assert lines[2] == "| 150 | 33.46 | 41.23 | 0.95 | +0.0200 | 0.150 |"
    assert lines[3] == "| 300 | 34.00 | 41.50 | 0.50 | +0.0700 |  |"
    assert len(lines) == 4
