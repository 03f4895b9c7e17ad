"""ship_weights: which runs it exports and the training command its cards give."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from benchmarks.common import REPO
from benchmarks.reproduce import ship_weights
from flowkit.models import build, load_model
from flowkit.models.io import tensor_digest
from flowkit.models.pretrained import weights_path


def test_card_command_names_the_training_seed():
    assert (
        ship_weights.training_command("irn-x2-s1")
        == "python -m benchmarks.reproduce.table1 --train --seed 1  (run irn-x2-s1)"
    )
    assert "--seed 12  (run fgrn-x4-g5e-2-s12)" in ship_weights.training_command("fgrn-x4-g5e-2-s12")
    assert ship_weights.training_command("irn-x4") == "python -m benchmarks.reproduce.table1 --train  (run irn-x4)"


def test_card_command_of_a_gpu_run_is_its_gpu_budget_call():
    command = ship_weights.training_command("gpu-irn-x4-n8000-fp32-s1")
    assert "benchmarks.reproduce.gpu_budget --runs gpu-irn-x4 --iterations 8000" in command
    assert "seed=1" in command and "--tag n8000-fp32-s1" in command and "table1" not in command


def test_only_exports_the_models_named(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(ship_weights, "finished", lambda name: asked.append(name) or False)
    ship_weights.main(["--only", "irn-x2"])
    assert asked == [ship_weights.SHIPPED_RUNS[("irn", 2)]]
    assert capsys.readouterr().out == f"{asked[0]}: not finished; not shipped\n"


def test_a_continued_run_extends_the_shipped_cards_ledger():
    # a card written before ledgers existed: its one run becomes the first ledger line
    budget = {
        "iterations": 8000,
        "batch": 8,
        "patch": 64,
        "lr": 3e-4,
        "wall_seconds": 2235.5,
        "machine": {"cpu_count": 2, "torch_threads": 1, "processor": "x86_64"},
    }
    shipped = {
        "sha256": "e2dbce2525414602",
        "training": {
            "config": {"seed": 0},
            "budget": budget,
            "command": "python -m benchmarks.reproduce.table1 --train  (run fgrn-x4-g5e-2-8k)",
        },
    }
    old = ship_weights.previous_ledger(shipped)
    assert len(old) == 1 and old[0]["iterations"] == shipped["training"]["budget"]["iterations"]
    assert old[0]["run"] == "fgrn-x4-g5e-2-8k" and old[0]["started_from"] == "random initialisation"
    assert old[0]["device"] == "2-core CPU (x86_64), 1 thread"
    run_budget = {
        "iterations": 3000,
        "batch": 8,
        "patch": 64,
        "wall_seconds": 1800.0,
        "machine": {"gpu": "NVIDIA H200", "cpu_count": 16},
    }
    ledger = ship_weights.card_ledger("more", {"init_weights": "fgrn-x4", "seed": 0}, run_budget, shipped)
    assert ledger[:1] == old and ledger[1]["started_from"] == f"fgrn-x4 (sha256 {shipped['sha256'][:12]})"
    assert ledger[1]["device"] == "NVIDIA H200" and ledger[1]["minutes"] == 30.0
    total = ship_weights.ledger_totals(ledger)
    assert total["runs"] == 2 and total["iterations"] == old[0]["iterations"] + 3000
    assert total["patches"] == old[0]["iterations"] * old[0]["batch"] + 3000 * 8
    pixels = old[0]["iterations"] * old[0]["batch"] * old[0]["patch"] ** 2 + 3000 * 8 * 64**2
    assert total["hr_megapixels"] == round(pixels / 1e6, 1)
    assert "frozen" not in ledger[1]
    upscaler = ship_weights.card_ledger(
        "gu", {"init_weights": "fgrn-x4", "freeze": ["gd", "flow"]}, run_budget, shipped
    )
    assert upscaler[1]["frozen"] == ["gd", "flow"]
    fresh = ship_weights.card_ledger("new", {"seed": 1}, run_budget, shipped)
    assert [e["started_from"] for e in fresh] == ["random initialisation"]
    # started from the checkpoint of the run the shipped file came from: the same weights before storage
    own = ship_weights.card_ledger(
        "next",
        {"init_weights": "runs/more/checkpoints/step-00003000.safetensors"},
        run_budget,
        {**shipped, "ledger": ledger},
    )
    assert (
        own[:2] == ledger
        and own[2]["started_from"] == "more's step-00003000 in float32 (shipped as sha256 e2dbce252541)"
    )
    with pytest.raises(ValueError, match="ledger is unknown"):  # another run's checkpoint: no lineage to write
        ship_weights.card_ledger(
            "next",
            {"init_weights": "runs/other/checkpoints/step-00001000.safetensors"},
            run_budget,
            {**shipped, "ledger": ledger},
        )


def test_a_run_from_an_unshipped_continuation_carries_its_steps():
    budget = {"iterations": 8000, "batch": 2, "patch": 128, "wall_seconds": 3600.0, "machine": {"gpu": "NVIDIA H200"}}
    shipped = {"sha256": "e0d3bda13da8aaaa", "ledger": [ship_weights.ledger_entry("long", {"seed": 1}, budget, "x")]}
    runs = {  # c2 continued the shipped file and was not shipped; c3 continued c2's last checkpoint
        "c2": ({"init_weights": "fgrn-x4", "seed": 2}, budget),
        "fresh": ({"seed": 3}, budget),
    }
    ledger = ship_weights.card_ledger(
        "c3",
        {"init_weights": "runs/c2/checkpoints/step-00008000.safetensors", "seed": 4},
        budget,
        shipped,
        ship_weights.Lineages(unshipped=runs.get),
    )
    assert [e["run"] for e in ledger] == ["long", "c2", "c3"] and [e["seed"] for e in ledger] == [1, 2, 4]
    assert ledger[1]["started_from"] == "fgrn-x4 (sha256 e0d3bda13da8)"
    assert ledger[2]["started_from"] == "c2's step-00008000 in float32 (not shipped)"
    assert ship_weights.ledger_totals(ledger)["iterations"] == 3 * 8000
    for init in (
        "runs/c2/checkpoints/step-00004000.safetensors",  # not c2's last checkpoint: not the steps its budget counts
        "runs/fresh/checkpoints/step-00008000.safetensors",  # a run that does not descend from the shipped file
    ):
        with pytest.raises(ValueError, match="ledger is unknown"):
            ship_weights.card_ledger(
                "c3", {"init_weights": init}, budget, shipped, ship_weights.Lineages(unshipped=runs.get)
            )


def test_a_run_from_a_stored_parent_carries_its_runs_steps():
    budget = {"iterations": 4000, "batch": 2, "patch": 128, "wall_seconds": 3000.0, "machine": {"cpu_count": 2}}
    shipped = {"sha256": "e734e678638baaaa", "ledger": [ship_weights.ledger_entry("s168", {"seed": 168}, budget, "x")]}
    runs = {  # g3 continued the shipped file, g4 g3's last checkpoint; g4's was stored in parents/
        "g3": ({"init_weights": "fgrn-x2", "seed": 171}, budget),
        "g4": ({"init_weights": "runs/g3/checkpoints/step-00004000.safetensors", "seed": 173}, budget),
        "fresh": ({"seed": 3}, budget),
    }

    def lineage(name):  # as run_lineage: a run without its folder is an error
        if name not in runs:
            raise ValueError(f"no checkpoint of run {name}: its ledger is unknown")
        return runs[name]

    def stored(name):  # as common.holds_last_weights: parents/g4.safetensors holds g4's last weights
        return name in ("g4", "fresh")

    init = {"init_weights": "benchmarks/reproduce/parents/g4.safetensors", "seed": 175}
    ledger = ship_weights.card_ledger(
        "g5", init, budget, shipped, ship_weights.Lineages(unshipped=lineage, stored=stored)
    )
    assert [e["run"] for e in ledger] == ["s168", "g3", "g4", "g5"] and ledger[-1]["seed"] == 175
    assert ledger[-1]["started_from"] == "g4's step-00004000 stored in float16 as parents/g4.safetensors (not shipped)"
    assert ship_weights.ledger_totals(ledger)["iterations"] == 4 * 4000
    # not descending from the shipped file; not the run's last weights; no such run: never the shipped file
    for parent in ("fresh", "g3", "absent"):
        config = {"init_weights": f"parents/{parent}.safetensors"}
        with pytest.raises(ValueError, match="ledger is unknown"):
            ship_weights.card_ledger(
                "g5", config, budget, shipped, ship_weights.Lineages(unshipped=lineage, stored=stored)
            )
    with pytest.raises(ValueError, match="ledger is unknown"):  # the file unchecked
        ship_weights.card_ledger("g5", init, budget, shipped, ship_weights.Lineages(unshipped=lineage))
    # a stored weight average: the runs behind it, each once, then its averaging line
    pair = {
        "ingredients": [
            {"path": f"runs/g4{s}/checkpoints/step-00004000.safetensors", "step": 4000, "train_config": config}
            | {"train_seconds": 3000.0, "machine": {"cpu_count": 2}}
            for s, config in (("a", runs["g4"][0] | {"seed": 174}), ("b", runs["g4"][0] | {"seed": 175}))
        ]
    }
    for ingredient in pair["ingredients"]:
        ingredient["train_config"] |= {"iterations": 4000, "batch_size": 2, "patch_size": 128, "lr": 5e-5}
    averaged = {"g4-pair": pair}.get
    config = {"init_weights": "benchmarks/reproduce/parents/g4-pair.safetensors", "seed": 176}
    ledger = ship_weights.card_ledger(
        "g6",
        config,
        budget,
        shipped,
        ship_weights.Lineages(unshipped=lineage, averaged=averaged, stored=lambda name: name == "g4-pair"),
    )
    assert [e["run"] for e in ledger] == ["s168", "g3", "g4a", "g4b", "g4-pair", "g6"]
    assert ledger[-1]["started_from"] == (
        "g4-pair, a weight average stored in float16 as parents/g4-pair.safetensors (not shipped)"
    )
    with pytest.raises(ValueError, match="ledger is unknown"):  # the same average, its file unchecked
        ship_weights.card_ledger(
            "g6",
            config,
            budget,
            shipped,
            ship_weights.Lineages(unshipped=lineage, averaged=averaged, stored=lambda name: False),
        )
    # the run folders gone: the lineage record committed beside the stored file gives the same ledger
    record = {"g4-pair": {"ledger": ledger[:-1], "started_from": ledger[-1]["started_from"]}}
    gone = ship_weights.card_ledger(
        "g6",
        config,
        budget,
        shipped,
        ship_weights.Lineages(unshipped=lineage, stored=lambda name: False, recorded=record.get),
    )
    assert gone == ledger
    other = {"sha256": "0123456789abaaaa", "ledger": [ship_weights.ledger_entry("s200", {}, budget, "x")]}
    with pytest.raises(ValueError, match="ledger is unknown"):  # a record that does not descend from the shipped file
        ship_weights.card_ledger(
            "g6",
            config,
            budget,
            other,
            ship_weights.Lineages(unshipped=lineage, stored=lambda name: False, recorded=record.get),
        )


def test_an_unshipped_parent_without_its_run_folder_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(ship_weights, "RUNS", tmp_path)
    with pytest.raises(ValueError, match="no checkpoint of run c2 .* its ledger is unknown"):
        ship_weights.run_lineage("c2")


def test_storage_dtype_is_the_first_within_the_tolerance(monkeypatch):
    import torch

    from flowkit.models import build

    net = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    scores = iter([30.0, 30.02, 30.004])  # float32, float16 (+0.02: too far), bfloat16 (+0.004)
    monkeypatch.setattr(ship_weights, "set5_psnr", lambda _: next(scores))
    dtype, changes = ship_weights.storage_dtype(net)
    assert dtype is torch.bfloat16 and changes == pytest.approx({"float16": 0.02, "bfloat16": 0.004})
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())  # left as it was
    scores = iter([30.0, 29.9, 30.3])
    assert ship_weights.storage_dtype(net)[0] is torch.float32


def test_a_card_without_a_ledger_names_its_run_from_its_command():
    budget = {"iterations": 8000, "batch": 8, "patch": 64, "wall_seconds": 504.0, "machine": {"gpu": "NVIDIA H200"}}
    commands = {
        "FLOWKIT_DATA=<shared data> python -m benchmarks.reproduce.gpu_budget --runs gpu-irn-x4 --iterations 8000 "
        "--cuda-graph --batch 8 --patch 64 --set tf32=false seed=1 --tag n8000-fp32-s1  (on one NVIDIA H200)": (
            "gpu-irn-x4-n8000-fp32-s1"
        ),
        "python -m benchmarks.reproduce.table1 --train --seed 1  (run irn-x4-s1)": "irn-x4-s1",
        "flowkit train --config mine.json": "unknown",
    }
    for command, run in commands.items():
        card = {"training": {"config": {"seed": 1}, "budget": budget, "command": command}}
        (entry,) = ship_weights.previous_ledger(card)
        assert entry["run"] == run and entry["iterations"] == 8000 and entry["device"] == "NVIDIA H200"


def test_a_card_with_a_ledger_keeps_it():
    from flowkit.models import model_card

    card = model_card("fgrn", 4)
    if "ledger" in card:
        assert ship_weights.previous_ledger(card) == card["ledger"]
        assert card["ledger_total"] == ship_weights.ledger_totals(card["ledger"])


def test_an_interrupted_export_leaves_the_shipped_files_as_they_were(monkeypatch, tmp_path):
    weights, card = tmp_path / "fgrn-x2.safetensors", tmp_path / "fgrn-x2.json"
    weights.write_bytes(b"shipped weights")
    card.write_text("{}")
    net = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4)
    ckpt = SimpleNamespace(path=tmp_path / "step-00000010.json", info={"train_config": {"seed": 0}})
    monkeypatch.setattr(ship_weights, "SHIPPED_RUNS", {("fgrn", 2): "run"})
    monkeypatch.setattr(ship_weights, "CONTINUING_RUNS", frozenset({"run"}))
    monkeypatch.setattr(ship_weights, "latest_checkpoint", lambda folder: ckpt)
    monkeypatch.setattr(ship_weights, "final_weights", lambda name: ckpt.path.with_suffix(".safetensors"))
    monkeypatch.setattr(ship_weights, "load_model", lambda *args, **kwargs: net)
    monkeypatch.setattr(ship_weights, "weights_path", lambda model, scale: weights)
    monkeypatch.setattr(ship_weights, "storage_dtype", lambda net: (torch.float32, {}))
    monkeypatch.setattr(ship_weights, "model_card", lambda model, scale: {})
    monkeypatch.setattr(ship_weights, "card_ledger", lambda *args: [])
    monkeypatch.setattr(ship_weights, "budget", lambda name: {})

    def evaluation_stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ship_weights, "evaluate_run", evaluation_stopped)
    with pytest.raises(KeyboardInterrupt):
        ship_weights.main(["--only", "fgrn-x2"])
    assert weights.read_bytes() == b"shipped weights" and card.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fgrn-x2.json", "fgrn-x2.safetensors"]


def _checkpoint(run: str, step: int, init: str | None, seed: int) -> dict:
    """A manifest record of a checkpoint ingredient, as ``soup`` writes it."""
    config = {"batch_size": 1, "patch_size": 192, "lr": 1e-4, "seed": seed, "iterations": 4000}
    return {
        "path": f"benchmarks/reproduce/runs/{run}/checkpoints/step-{step:08d}.safetensors",
        "sha256": f"{seed:02d}" * 32,
        "step": step,
        "train_seconds": 1800.0,
        "machine": {"cpu_count": 2, "torch_threads": 1},
        "train_config": config | ({"init_weights": init} if init else {}),
    }


def _family() -> tuple[dict, dict]:
    """A shipped card whose file came from run ``src``, and the manifest of ``A``: the average of
    ``src`` at its shipped step and two children of it (one stopped at step 2000)."""
    budget = {"iterations": 4000, "batch": 1, "patch": 192, "wall_seconds": 1800.0, "machine": {"cpu_count": 2}}
    shipped = {
        "sha256": "e2fd6e88ad7e0000",
        "ledger": [
            ship_weights.ledger_entry("long", {"seed": 1}, budget | {"iterations": 8000}, "random initialisation"),
            ship_weights.ledger_entry("src", {"seed": 2}, budget, "long's step-00008000 in float32"),
        ],
    }
    parent = "benchmarks/reproduce/runs/src/checkpoints/step-00004000.safetensors"
    manifest = {
        "ingredients": [
            _checkpoint("src", 4000, "runs/long/checkpoints/step-00008000.safetensors", 2),
            _checkpoint("c1", 4000, parent, 3),
            _checkpoint("c2", 2000, parent, 4),
        ]
    }
    return shipped, manifest


def test_an_average_ledgers_every_run_behind_it_once():
    shipped, manifest = _family()
    ledger = ship_weights.average_ledger("A", manifest, shipped, ship_weights.Lineages(averaged={}.get))
    assert [e["run"] for e in ledger] == ["long", "src", "c1", "c2", "A"]
    assert ledger[:2] == shipped["ledger"]  # the shipped file's own run at its shipped step: its card's lines
    assert [e["iterations"] for e in ledger] == [8000, 4000, 4000, 2000, 0]  # c2 counted to the step that went in
    assert ledger[2]["started_from"] == "src's step-00004000 in float32 (shipped as sha256 e2fd6e88ad7e)"
    assert ledger[-1]["started_from"] == "the uniform average of 3 weights: src step 4000, c1 step 4000, c2 step 2000"
    assert ledger[-1]["minutes"] == 0.0 and ledger[-1]["batch"] == 0
    total = ship_weights.ledger_totals(ledger)
    assert (
        total["runs"] == 5 and total["iterations"] == 18000 and total["minutes"] == 4 * 30.0
    )  # four runs of 30 min, the averaging none
    training = ship_weights.average_training(manifest, ledger[-1])
    assert training["budget"]["iterations"] == ledger[-1]["iterations"] == 0
    assert training["average"]["ingredients"] == [
        {"run": r, "step": n, "sha256": i["sha256"]}
        for (r, n), i in zip([("src", 4000), ("c1", 4000), ("c2", 2000)], manifest["ingredients"], strict=True)
    ]


def test_a_weighted_average_gives_each_share_in_its_ledger_and_card():
    shipped, manifest = _family()
    for record, share in zip(manifest["ingredients"], (0.5, 0.25, 0.25), strict=True):
        record["share"] = share
    ledger = ship_weights.average_ledger("W", manifest, shipped, ship_weights.Lineages(averaged={}.get))
    assert ledger[-1]["started_from"] == (
        "the weighted average of 3 weights: src step 4000 (share 0.5), c1 step 4000 (share 0.25), "
        "c2 step 2000 (share 0.25)"
    )
    training = ship_weights.average_training(manifest, ledger[-1])
    assert training["average"]["method"] == "weighted mean of every floating-point tensor"
    assert [i["share"] for i in training["average"]["ingredients"]] == [0.5, 0.25, 0.25]
    for record in manifest["ingredients"]:
        record["share"] = 1 / 3  # equal shares, as soup writes them by default: a uniform average
    ledger = ship_weights.average_ledger("U", manifest, shipped, ship_weights.Lineages(averaged={}.get))
    assert ledger[-1]["started_from"].startswith("the uniform average of 3 weights: src step 4000, c1")
    assert "share" not in ship_weights.average_training(manifest, ledger[-1])["average"]["ingredients"][0]


def test_a_second_generation_carries_the_first_average():
    shipped, manifest = _family()
    averages = {"A": manifest}
    g1 = _checkpoint("g1", 4000, "benchmarks/reproduce/runs/A/A.safetensors", 5)
    child = ship_weights.card_ledger(
        "g1",
        g1["train_config"],
        ship_weights.ingredient_budget(g1),
        shipped,
        ship_weights.Lineages(averaged=averages.get),
    )
    assert [e["run"] for e in child] == ["long", "src", "c1", "c2", "A", "g1"]
    assert child[-1]["started_from"] == "A, a weight average (not shipped)"
    second = {"ingredients": [g1, {"path": "benchmarks/reproduce/runs/A/A.safetensors", "sha256": "ff" * 32}]}
    averages["B"] = second
    ledger = ship_weights.average_ledger("B", second, shipped, ship_weights.Lineages(averaged=averages.get))
    assert [e["run"] for e in ledger] == ["long", "src", "c1", "c2", "A", "g1", "B"]  # A's runs once
    assert ledger[-1]["started_from"] == "the uniform average of 2 weights: g1 step 4000, A (an average)"
    assert ship_weights.average_training(second, ledger[-1])["average"]["ingredients"][1] == {
        "average": "A",
        "sha256": "ff" * 32,
    }


def test_a_line_point_from_a_stored_parent_ledgers_the_parents_runs_once():
    # soup Q PAIR --shares 0.4 0.6 with Q = parents/A.safetensors (the average A stored in float16, its run
    # folder gone: its committed record) and PAIR the average of two children started from that file
    shipped, manifest = _family()
    lineage = ship_weights.average_ledger("A", manifest, shipped, ship_weights.Lineages(averaged={}.get))
    record = {
        "A": {"ledger": lineage, "started_from": "A, a weight average stored in float16 as parents/A.safetensors"}
    }
    stored = "benchmarks/reproduce/parents/A.safetensors"
    pair = {"ingredients": [_checkpoint("k1", 1500, stored, 7), _checkpoint("k2", 1500, stored, 8)]}
    sources = ship_weights.Lineages(averaged={"P": pair}.get, stored=lambda name: False, recorded=record.get)
    point = {
        "ingredients": [
            {"path": stored, "sha256": "aa" * 32, "share": 0.4},
            {"path": "benchmarks/reproduce/runs/P/P.safetensors", "sha256": "bb" * 32, "share": 0.6},
        ]
    }
    ledger = ship_weights.average_ledger("a600", point, shipped, sources)
    assert [e["run"] for e in ledger] == ["long", "src", "c1", "c2", "A", "k1", "k2", "P", "a600"]  # A's runs once
    assert ledger[5]["iterations"] == 1500 and ledger[5]["started_from"] == record["A"]["started_from"]
    assert (
        ledger[-1]["started_from"]
        == "the weighted average of 2 weights: A (stored in float16, share 0.4), P (an average, share 0.6)"
    )
    assert ship_weights.ledger_totals(ledger)["iterations"] == 8000 + 3 * 4000 - 2000 + 2 * 1500
    training = ship_weights.average_training(point, ledger[-1])
    assert training["average"]["ingredients"] == [
        {"stored_parent": "A", "sha256": "aa" * 32, "share": 0.4},
        {"average": "P", "sha256": "bb" * 32, "share": 0.6},
    ]
    with pytest.raises(ValueError, match="parents/A.safetensors is neither .* its ledger is unknown"):  # no record
        ship_weights.average_ledger("a600", point, shipped, ship_weights.Lineages(averaged={"P": pair}.get))


def test_a_line_point_from_the_shipped_file_ledgers_its_runs_once():
    # soup Q PAIR --shares 0.55 0.45 with Q the shipped file itself and PAIR the average of two children of it
    shipped, _ = _family()
    q = "flowkit/models/weights/fgrn-x4.safetensors"
    pair = {"ingredients": [_checkpoint("k1", 4000, "fgrn-x4", 7), _checkpoint("k2", 4000, "fgrn-x4", 8)]}
    point = {
        "ingredients": [
            {"path": q, "sha256": "aa" * 32, "share": 0.55},
            {"path": "benchmarks/reproduce/runs/P/P.safetensors", "sha256": "bb" * 32, "share": 0.45},
        ]
    }
    now = {(Path(q), "aa" * 32)}  # the file shipped now holds the tensors the average took
    sources = ship_weights.Lineages(averaged={"P": pair}.get, shipped=lambda path, digest: (path, digest) in now)
    ledger = ship_weights.average_ledger("a450", point, shipped, sources)
    assert [e["run"] for e in ledger] == ["long", "src", "k1", "k2", "P", "a450"]  # the shipped runs once
    assert ledger[:2] == shipped["ledger"]
    assert ledger[2]["started_from"] == "fgrn-x4 (sha256 e2fd6e88ad7e)"
    assert ledger[-1]["started_from"] == (
        "the weighted average of 2 weights: fgrn-x4 (shipped, sha256 e2fd6e88ad7e, share 0.55), "
        "P (an average, share 0.45)"
    )
    assert ship_weights.ledger_totals(ledger)["iterations"] == 8000 + 4000 + 2 * 4000
    assert ship_weights.average_training(point, ledger[-1])["average"]["ingredients"] == [
        {"shipped": "fgrn-x4", "sha256": "aa" * 32, "share": 0.55},
        {"average": "P", "sha256": "bb" * 32, "share": 0.45},
    ]
    now.clear()  # the shipped file changed since the average took it: its ledger is unknown
    with pytest.raises(ValueError, match="fgrn-x4.safetensors is neither .* nor the shipped file: its ledger"):
        ship_weights.average_ledger("a450", point, shipped, sources)


def test_the_shipped_file_is_known_by_its_folder_and_its_tensors_now(tmp_path):
    shipped = weights_path("fgrn", 4)
    digest = tensor_digest(load_model(shipped).state_dict())
    assert ship_weights.is_shipped_file(shipped.relative_to(REPO), digest)
    assert ship_weights.is_shipped_file(shipped, digest)
    assert not ship_weights.is_shipped_file(shipped, "00" * 32)  # other tensors than the file holds now
    copy = tmp_path / shipped.name
    copy.write_bytes(shipped.read_bytes())
    assert not ship_weights.is_shipped_file(copy, digest)  # the same tensors outside the package's folder
    assert not ship_weights.is_shipped_file(shipped.with_name("none-x4.safetensors"), digest)


def test_an_average_whose_ledger_is_unknown_is_refused():
    shipped, manifest = _family()
    twice = {
        "ingredients": [
            *manifest["ingredients"],
            _checkpoint("c2", 4000, manifest["ingredients"][1]["train_config"]["init_weights"], 4),
        ]
    }
    with pytest.raises(ValueError, match="run c2 is in the ledger twice"):
        ship_weights.average_ledger("A", twice, shipped, ship_weights.Lineages(averaged={}.get))
    stray = {"ingredients": [*manifest["ingredients"], {"path": "elsewhere/mine.safetensors", "sha256": "aa" * 32}]}
    with pytest.raises(ValueError, match="mine.safetensors is neither .* its ledger is unknown"):
        ship_weights.average_ledger("A", stray, shipped, ship_weights.Lineages(averaged={}.get))
    orphan = {"ingredients": [_checkpoint("c9", 4000, "runs/other/checkpoints/step-00001000.safetensors", 9)]}
    with pytest.raises(ValueError, match="ledger is unknown"):
        ship_weights.average_ledger("A", orphan, shipped, ship_weights.Lineages(averaged={}.get))


def test_an_average_ships_with_its_ingredients_on_the_card(monkeypatch, tmp_path):
    shipped, manifest = _family()
    net = build("fgrn", 2, channels=8, gd_blocks=1, gu_blocks=1, flow_cells=1, flow_growth=4)
    weights = tmp_path / "fgrn-x2.safetensors"
    weights.with_suffix(".json").write_text(json.dumps(shipped))  # the card of the file shipped now
    monkeypatch.setattr(ship_weights, "SHIPPED_RUNS", {("fgrn", 2): "A"})
    monkeypatch.setattr(ship_weights, "average_manifest", {"A": manifest}.get)
    monkeypatch.setattr(ship_weights, "final_weights", lambda name: tmp_path / "A.safetensors")
    monkeypatch.setattr(ship_weights, "finished", lambda name: True)
    monkeypatch.setattr(ship_weights, "load_model", lambda *args, **kwargs: net)
    monkeypatch.setattr(ship_weights, "weights_path", lambda model, scale: weights)
    monkeypatch.setattr(ship_weights, "storage_dtype", lambda net: (torch.float32, {}))
    monkeypatch.setattr(ship_weights, "model_card", lambda model, scale: shipped)
    keys = ("label", "images", "psnr", "ssim", "niqe", "niqe_images", "piqe", "draws")
    monkeypatch.setattr(ship_weights, "evaluate_run", lambda *a, **k: {"Set5": dict.fromkeys(keys, 1)})
    ship_weights.main(["--only", "fgrn-x2"])
    card = json.loads(weights.with_suffix(".json").read_text())
    assert [e["run"] for e in card["ledger"]] == ["long", "src", "c1", "c2", "A"]
    assert card["training"]["budget"]["iterations"] == card["ledger"][-1]["iterations"] == 0
    assert [i["run"] for i in card["training"]["average"]["ingredients"]] == ["src", "c1", "c2"]
    assert "config" not in card["training"] and card["ledger_total"]["iterations"] == 18000


def test_after_an_average_ships_its_children_extend_its_card():
    shipped, manifest = _family()
    averages = {"A": manifest}
    card = {
        "sha256": "abcdef0123456789",
        "ledger": ship_weights.average_ledger("A", manifest, shipped, ship_weights.Lineages(averaged=averages.get)),
    }
    g1 = _checkpoint("g1", 4000, "benchmarks/reproduce/runs/A/A.safetensors", 5)
    child = ship_weights.card_ledger(
        "g1", g1["train_config"], ship_weights.ingredient_budget(g1), card, ship_weights.Lineages(averaged=averages.get)
    )
    assert child[:-1] == card["ledger"]  # the shipped card's lines, not a lineage written anew
    assert child[-1]["started_from"] == "A, a weight average in float32 (shipped as sha256 abcdef012345)"
    again = {"ingredients": [g1, {"path": "benchmarks/reproduce/runs/A/A.safetensors", "sha256": "ff" * 32}]}
    ledger = ship_weights.average_ledger("B", again, card, ship_weights.Lineages(averaged=averages.get))
    assert ledger[:-2] == card["ledger"] and [e["run"] for e in ledger[-2:]] == ["g1", "B"]


def test_children_of_a_grown_file_ledger_its_source_and_how_it_grew():
    shipped, _ = _family()
    grown = {"G": {"from": "fgrn-x4", "sha256": "ab" * 32, "gd_blocks": [7, 7], "gu_blocks": [8, 9]}}
    kids = [_checkpoint(f"k{i}", 4000, "benchmarks/reproduce/runs/G/G.safetensors", 6 + i) for i in (1, 2)]
    child = ship_weights.card_ledger(
        "k1",
        kids[0]["train_config"],
        ship_weights.ingredient_budget(kids[0]),
        shipped,
        ship_weights.Lineages(averaged={}.get, grown=grown.get),
    )
    assert child[:2] == shipped["ledger"] and [e["run"] for e in child] == ["long", "src", "k1"]
    assert child[-1]["started_from"] == (
        "fgrn-x4 (sha256 e2fd6e88ad7e), grown by G (gu_blocks 8 to 9; the added blocks identities)"
    )
    assert child[-1]["iterations"] == 4000 and child[-1]["seed"] == 7
    pair = ship_weights.average_ledger(
        "P", {"ingredients": kids}, shipped, ship_weights.Lineages(averaged={}.get, grown=grown.get)
    )
    assert [e["run"] for e in pair] == ["long", "src", "k1", "k2", "P"]
    assert pair[3]["started_from"] == child[-1]["started_from"]
    # a source given as a path (grow /abs/.../fgrn-x4.safetensors) is named by its file, not the machine's path
    grown["G"]["from"] = "/home/someone/flowkit/models/weights/fgrn-x4.safetensors"
    by_path = ship_weights.card_ledger(
        "k1",
        kids[0]["train_config"],
        ship_weights.ingredient_budget(kids[0]),
        shipped,
        ship_weights.Lineages(averaged={}.get, grown=grown.get),
    )
    assert by_path == child
    # without the grown file's record, a file in a run folder is not taken for the shipped file
    with pytest.raises(ValueError, match="or an average or grown file of those: its ledger is unknown"):
        ship_weights.card_ledger("k1", kids[0]["train_config"], ship_weights.ingredient_budget(kids[0]), shipped)


def test_a_run_from_the_last_checkpoint_of_a_grown_files_child_ledgers_the_whole_line():
    # shipped -> grown file G -> child k1 (not shipped) -> its last checkpoint -> grandchild g
    shipped, _ = _family()
    grown = {"G": {"from": "fgrn-x4", "sha256": "ab" * 32, "gd_blocks": [7, 8], "gu_blocks": [8, 8]}}
    k1 = _checkpoint("k1", 4000, "benchmarks/reproduce/runs/G/G.safetensors", 7)
    g = _checkpoint("g", 4000, k1["path"], 9)
    runs = {"k1": (k1["train_config"], ship_weights.ingredient_budget(k1))}
    ledger = ship_weights.card_ledger(
        "g",
        g["train_config"],
        ship_weights.ingredient_budget(g),
        shipped,
        ship_weights.Lineages(unshipped=runs.__getitem__, averaged={}.get, grown=grown.get),
    )
    assert [e["run"] for e in ledger] == ["long", "src", "k1", "g"]
    assert ledger[2]["started_from"] == (
        "fgrn-x4 (sha256 e2fd6e88ad7e), grown by G (gd_blocks 7 to 8; the added blocks identities)"
    )
    assert ledger[3]["started_from"] == "k1's step-00004000 in float32 (not shipped)"
    assert ledger[3]["seed"] == 9
