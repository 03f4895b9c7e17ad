"""``benchmarks.inference --optimisations``: with the official IRN in the run, every row's
speed-up over the official IRN's ``no_grad`` round trip at the same scale and size."""

import json

import torch

from benchmarks import inference

#: round-trip ms per (model, setting) that the stubbed cases report
MS = {
    ("fgrn", "no_grad"): 3000.0,
    ("fgrn", "inference_mode + torch.compile"): 1500.0,
    ("irn-official", "no_grad"): 24000.0,
    ("irn-official", "inference_mode + torch.compile"): 20000.0,
}


def test_rows_are_timed_against_the_official_irn_of_the_same_case(monkeypatch, tmp_path):
    def run_case(case):
        flags = {k for k in ("no_grad_only", "channels_last", "compile") if case.get(k)}
        flags |= {"dtype"} if case["dtype"] != "float32" else set()
        setting = next(k for k, v in inference.SETTINGS.items() if set(v) == flags)
        if (case["model"], setting) not in MS:
            return None  # a failed case is left out, as _run_case does
        return {**case, "ms": MS[case["model"], setting], "first_ms": 1.0, "peak_mib": 1.0}

    monkeypatch.setattr(inference, "_run_case", run_case)
    args = ["--optimisations", "--models", "fgrn", "--scales", "4", "--sizes", "1MP", "--irn-code", "somewhere"]
    results = inference.main([*args, "--out", str(tmp_path), "--device", "cpu"])
    got = {(r["model"], r["setting"]): r["vs_official"] for r in results}
    assert got == {
        ("fgrn", "no_grad"): 8.0,
        ("fgrn", "inference_mode + torch.compile"): 16.0,
        ("irn-official", "no_grad"): 1.0,
        ("irn-official", "inference_mode + torch.compile"): 1.2,
    }
    assert all(r["irn_code"] == "somewhere" for r in results)
    table = (tmp_path / "inference_optimisations.md").read_text()
    assert "speed-up vs official IRN (no_grad)" in table.splitlines()[0] and "| 16.00x |" in table
    assert json.loads((tmp_path / "inference_optimisations.json").read_text())["results"][1]["vs_official"] == 16.0


def test_without_the_official_code_there_is_no_such_column(monkeypatch, tmp_path):
    monkeypatch.setattr(inference, "_run_case", lambda case: {**case, "ms": 10.0, "first_ms": 1.0, "peak_mib": 1.0})
    args = ["--optimisations", "--models", "fgrn", "--scales", "4", "--sizes", "256", "--out", str(tmp_path)]
    inference.main(args)
    assert "official" not in (tmp_path / "inference_optimisations.md").read_text()
    inference.main([*args, "--name", "elsewhere"])  # --name names the results file here too
    assert (tmp_path / "elsewhere.md").read_text() == (tmp_path / "inference_optimisations.md").read_text()


def test_settings_picks_the_settings_timed(monkeypatch, tmp_path):
    monkeypatch.setattr(inference, "_run_case", lambda case: {**case, "ms": 10.0, "first_ms": 1.0, "peak_mib": 1.0})
    args = ["--optimisations", "--models", "fgrn", "--scales", "4", "--sizes", "256", "--out", str(tmp_path)]
    results = inference.main([*args, "--settings", "no_grad", "inference_mode"])
    assert [r["setting"] for r in results] == ["no_grad", "inference_mode"]
    assert not any(r.get("compile") or r.get("channels_last") for r in results)


def test_shipped_names_time_the_shipped_files_network():
    from flowkit.models import pretrained

    shipped, reference = inference._build("shipped-fgrn", 4, None), pretrained("fgrn", 4)
    assert shipped.config == reference.config
    assert not shipped.training
    assert sum(p.numel() for p in shipped.parameters()) == sum(p.numel() for p in reference.parameters())
    assert all(p.dtype == torch.float32 for p in shipped.parameters())


def test_the_bfloat16_setting_runs_flowkit_subnets_in_bfloat16_and_leaves_the_official_irn_out(monkeypatch, tmp_path):
    seen = []

    def run_case(case):
        seen.append((case["model"], case["dtype"]))
        return {**case, "ms": 1000.0 if case["dtype"] == "float32" else 500.0, "first_ms": 1.0, "peak_mib": 1.0}

    monkeypatch.setattr(inference, "_run_case", run_case)
    args = ["--optimisations", "--models", "shipped-fgrn", "--scales", "4", "--sizes", "1MP", "--irn-code", "x"]
    settings = ["--settings", "no_grad", "inference_mode + bfloat16 subnets"]
    results = inference.main([*args, "--out", str(tmp_path), *settings])
    assert seen == [
        ("shipped-fgrn", "float32"),
        ("shipped-fgrn", "bfloat16-subnets"),
        ("irn-official", "float32"),
    ]
    got = {(r["model"], r["setting"]): (r["speedup"], r["vs_official"]) for r in results}
    assert got[("shipped-fgrn", "inference_mode + bfloat16 subnets")] == (2.0, 2.0)


def test_the_compiled_bfloat16_setting_compiles_and_runs_subnets_in_bfloat16(monkeypatch, tmp_path):
    seen = []

    def run_case(case):
        seen.append((case["model"], case["dtype"], bool(case.get("compile"))))
        return {**case, "ms": 1000.0, "first_ms": 1.0, "peak_mib": 1.0}

    monkeypatch.setattr(inference, "_run_case", run_case)
    args = ["--optimisations", "--models", "shipped-fgrn", "--scales", "4", "--sizes", "1MP", "--irn-code", "x"]
    settings = ["--settings", "no_grad", "inference_mode + torch.compile + bfloat16 subnets"]
    inference.main([*args, "--out", str(tmp_path), *settings])
    assert seen == [
        ("shipped-fgrn", "float32", False),
        ("shipped-fgrn", "bfloat16-subnets", True),
        ("irn-official", "float32", False),  # the official IRN has no flowkit subnetworks to run in bfloat16
    ]
