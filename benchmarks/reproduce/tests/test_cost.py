"""benchmarks.reproduce.cost: the committed cost table is the one the result files give, and a
run shared by two files of one experiment counts once."""

import json

from benchmarks.reproduce import cost


def test_the_committed_cost_table_matches_the_result_files():
    assert (cost.HERE / "cost.md").read_text() == cost.table() + "\n"  # rerun the script after a study run


def test_a_shared_run_counts_once_and_gpu_time_is_apart(tmp_path):
    cpu = {"iterations": 100, "batch": 8, "patch": 64, "wall_seconds": 3600.0, "machine": {"cpu_count": 2}}
    gpu = {"iterations": 50, "batch": 8, "patch": 64, "wall_seconds": 120.0, "machine": {"gpu": "NVIDIA H200"}}
    (tmp_path / "a.json").write_text(json.dumps({"x4": {"budgets": {"fgrn": cpu, "irn": gpu}}}))
    (tmp_path / "b.json").write_text(json.dumps({"budgets": [cpu]}))  # the same CPU run, scored again
    c = cost.cost(["a", "b", "missing"], tmp_path)
    assert c["runs"] == 2 and c["iterations"] == 150
    assert c["cpu_hours"] == 1.0 and c["gpu_minutes"] == 2.0 and c["gpus"] == ["NVIDIA H200"]
