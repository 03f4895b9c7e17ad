"""Export the study's final FGRN/IRN weights into the package, each with a JSON model card.

Writes ``flowkit/models/weights/{fgrn,irn}-x{2,4}.safetensors`` and ``.json`` from the
finished runs of :mod:`benchmarks.reproduce.table1` and, for IRN x4, of
:mod:`benchmarks.reproduce.gpu_budget` (their evaluations go into the cards);
``results/reproduce/records.toml`` (:mod:`benchmarks.reproduce.records`) says which run each
comes from. Runs are not kept in the repository, so only the finished runs present are
exported (``--only`` picks some of them). Then
:mod:`benchmarks.reproduce.shipped` rewrites the table of the shipped weights from the new cards.

Usage::

    python -m benchmarks.reproduce.ship_weights [--irn-draws N] [--only irn-x2 ...]   # draws as given to table1
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.common import REPO, description
from benchmarks.reproduce.common import (
    RUNS,
    average_manifest,
    budget,
    checkpoint_budget,
    data_root,
    evaluate_run,
    final_weights,
    finished,
    grown_record,
    holds_last_weights,
    in_run_folder,
    is_stored_parent,
    parent_record,
)
from benchmarks.reproduce.records import CONTINUING_RUNS, RUN_COMMANDS, RUN_DATA, RUN_NOTES, SHIPPED_RUNS
from benchmarks.reproduce.report import machine_words
from flowkit.atomic import atomic_write
from flowkit.evaluation import evaluate
from flowkit.models import RescalingModel, available, load_model, model_card, save_model
from flowkit.models.io import cast_floating, tensor_digest
from flowkit.models.pretrained import weights_path
from flowkit.train.checkpoint import checkpoint_stem, latest_checkpoint


def training_command(run: str) -> str:
    """The command that trained ``run``: its record's ``command``, else table1's, with the ``--seed`` of a
    ``<name>-s<N>`` run (see ``common.seeded``)."""
    if run in RUN_COMMANDS:
        return RUN_COMMANDS[run]
    seeded = re.fullmatch(r".+-s(\d+)", run)
    return f"python -m benchmarks.reproduce.table1 --train{f' --seed {seeded[1]}' if seeded else ''}  (run {run})"


def ledger_entry(run: str, train_config: dict, run_budget: dict, started_from: str) -> dict:
    """One line of a card's budget ledger: what one training run added; ``frozen`` lists the
    model's parts the run left as they were (``TrainConfig.freeze``), where it froze any."""
    machine = run_budget.get("machine") or {}
    seconds = run_budget.get("wall_seconds")
    frozen = {"frozen": train_config["freeze"]} if train_config.get("freeze") else {}
    return {
        "run": run,
        "iterations": run_budget["iterations"],
        "batch": run_budget["batch"],
        "patch": run_budget["patch"],
        "device": machine_words(machine),
        "minutes": None if seconds is None else round(seconds / 60, 1),
        "started_from": started_from,
        "seed": train_config.get("seed"),
        **frozen,
    }


def previous_ledger(card: dict) -> list[dict]:
    """The ledger of a shipped card; cards written before ledgers existed give one line made
    from their ``training`` record, named by its command (``(run NAME)``, or a ``gpu_budget``
    call's ``--runs NAME ... --tag TAG``, whose run folder is ``NAME-TAG``)."""
    if "ledger" in card:
        return list(card["ledger"])
    t = card["training"]
    command = t.get("command", "")
    named = re.search(r"\(run ([^)]+)\)", command)
    gpu = re.search(r"gpu_budget --runs (\S+) .*--tag (\S+)", command)
    run = named[1] if named else f"{gpu[1]}-{gpu[2]}" if gpu else "unknown"
    return [ledger_entry(run, t["config"], t["budget"], "random initialisation")]


def ledger_totals(ledger: list[dict]) -> dict:
    """Cumulative iterations, patches seen (iterations x batch), HR megapixels seen (patches x
    patch²: runs with other patch sizes add up fairly) and minutes of a ledger."""
    minutes = [e["minutes"] for e in ledger]
    return {
        "runs": len(ledger),
        "iterations": sum(e["iterations"] for e in ledger),
        "patches": sum(e["iterations"] * e["batch"] for e in ledger),
        "hr_megapixels": round(sum(e["iterations"] * e["batch"] * e["patch"] ** 2 for e in ledger) / 1e6, 1),
        "minutes": None if None in minutes else round(sum(minutes), 1),
    }


@dataclass(frozen=True)
class Lineages:
    """Where :func:`card_ledger`, :func:`average_ledger` and :func:`parent_lineage` read the lineage behind
    the weights a run started from (None: that source is not consulted). :data:`SOURCES` are this machine's."""

    #: a run's train config and budget, from its last checkpoint (an error when its folder is gone)
    unshipped: Callable[[str], tuple[dict, dict]] | None = None
    #: a run folder's weight-average manifest (None: not an average)
    averaged: Callable[[str], dict | None] | None = None
    #: a grown file's record as :mod:`benchmarks.reproduce.grow` writes it (None: not grown)
    grown: Callable[[str], dict | None] | None = None
    #: whether ``parents/R.safetensors`` holds run ``R``'s final weights
    stored: Callable[[str], bool] | None = None
    #: the lineage record beside ``parents/R.safetensors`` (None: none that names its tensors)
    recorded: Callable[[str], dict | None] | None = None
    #: whether an average's ingredient, its path and tensor digest, is the file the package ships now
    shipped: Callable[[Path, str], bool] | None = None


def card_ledger(
    run: str,
    train_config: dict,
    run_budget: dict,
    shipped_card: dict | None,
    sources: Lineages = Lineages(),
) -> list[dict]:
    """The ledger of weights trained by ``run``: the shipped card's ledger first when the run
    started from the shipped weights (``init_weights``), then the run itself. A run that started
    from the final checkpoint of an unshipped run ``R`` which itself descends from the shipped
    weights gets ``R``'s ledger first (``sources.unshipped``).
    A run that started from a weight average ``runs/A/A.safetensors`` gets :func:`average_ledger`'s
    ledger of ``A`` first (``sources.averaged``). A run
    that started from a grown file ``runs/G/G.safetensors`` gets the ledger of a run that started
    from ``G``'s source, its line saying how ``G`` grew it (``sources.grown``). A run that started from a parent
    stored in float16, ``parents/R.safetensors``, gets :func:`parent_lineage`'s ledger of ``R`` first
    (``sources.stored`` and ``sources.recorded``). The shipped file, given by name or by a path to
    its ``.safetensors`` file, is named in the ledger by that name or the file's stem, never by the
    path."""
    init = train_config.get("init_weights")
    if init and shipped_card is not None:
        before, digest, source = previous_ledger(shipped_card), shipped_card["sha256"][:12], Path(init)
        parent = source.parent.parent.name
        run_file = in_run_folder(source)
        if sources.grown is not None and run_file and (record := sources.grown(source.stem)):
            config = train_config | {"init_weights": record["from"]}
            lineage = card_ledger(run, config, run_budget, shipped_card, sources)
            counts = {k: record[k] for k in ("gd_blocks", "gu_blocks") if record[k][0] != record[k][1]}
            blocks = ", ".join(f"{k} {a} to {b}" for k, (a, b) in counts.items())
            started = f"{lineage[-1]['started_from']}, grown by {source.stem} ({blocks}; the added blocks identities)"
            return [*lineage[:-1], lineage[-1] | {"started_from": started}]
        if sources.averaged is not None and run_file and (manifest := sources.averaged(source.stem)):
            lineage = average_ledger(source.stem, manifest, shipped_card, sources)
            if source.stem == before[-1]["run"]:  # the average the shipped file was stored from
                started = f"{source.stem}, a weight average in float32 (shipped as sha256 {digest})"
            else:
                started = f"{source.stem}, a weight average (not shipped)"
            return [*lineage, ledger_entry(run, train_config, run_budget, started)]
        if is_stored_parent(source) and (found := parent_lineage(source.stem, shipped_card, sources)):
            lineage, started = found
            if lineage[: len(before)] == before:  # it descends from the shipped weights
                return [*lineage, ledger_entry(run, train_config, run_budget, started)]
        if source.parent.name != "checkpoints" and not is_stored_parent(source) and not run_file:  # the shipped file
            label = source.stem if source.suffix == ".safetensors" else init  # a card names no machine's paths
            return [*before, ledger_entry(run, train_config, run_budget, f"{label} (sha256 {digest})")]
        if parent == before[-1]["run"]:  # the checkpoint of the run the shipped file came from
            started = f"{parent}'s {source.stem} in float32 (shipped as sha256 {digest})"
            return [*before, ledger_entry(run, train_config, run_budget, started)]
        if sources.unshipped is not None and parent != run and source.parent.name == "checkpoints":
            parent_config, parent_budget = sources.unshipped(parent)
            if source.stem == checkpoint_stem(parent_budget["iterations"]):  # that run's last checkpoint
                lineage = card_ledger(parent, parent_config, parent_budget, shipped_card, sources)
                if lineage[: len(before)] == before:  # it descends from the shipped weights
                    started = f"{parent}'s {source.stem} in float32 (not shipped)"
                    return [*lineage, ledger_entry(run, train_config, run_budget, started)]
        raise ValueError(
            f"{run} started from {init}, not from the shipped file, its run {before[-1]['run']}, the last "
            "checkpoint of a run descending from them (or its float16 store), or an average or grown file of those: "
            "its ledger is unknown"
        )
    return [ledger_entry(run, train_config, run_budget, init or "random initialisation")]


def parent_lineage(
    stem: str,
    shipped_card: dict | None,
    sources: Lineages = Lineages(),
) -> tuple[list[dict], str] | None:
    """The ledger behind the parent stored as ``parents/STEM.safetensors`` and the words a child's line
    starts from, or None when neither source has them. From run folder ``STEM`` when ``sources.stored(STEM)`` says
    the file holds that run's final weights (:func:`~benchmarks.reproduce.common.holds_last_weights`): its
    weight average's ledger (``sources.averaged``, :func:`average_ledger`) or its last checkpoint's
    (``sources.unshipped``, :func:`card_ledger`); else the lineage record committed beside the file, which
    :mod:`benchmarks.reproduce.store_parent` wrote from the run folder
    (``sources.recorded(STEM)``, :func:`~benchmarks.reproduce.common.parent_record`)."""
    where = f"stored in float16 as parents/{stem}.safetensors (not shipped)"
    if sources.stored is not None and sources.stored(stem):
        if sources.averaged is not None and (manifest := sources.averaged(stem)):
            return average_ledger(stem, manifest, shipped_card, sources), f"{stem}, a weight average {where}"
        if sources.unshipped is not None:
            config, spent = sources.unshipped(stem)
            started = f"{stem}'s {checkpoint_stem(spent['iterations'])} {where}"
            return card_ledger(stem, config, spent, shipped_card, sources), started
    if sources.recorded is not None and (record := sources.recorded(stem)):
        return record["ledger"], record["started_from"]
    return None


def ingredient_budget(record: dict) -> dict:
    """The budget of a checkpoint that went into an average, from its manifest record: the
    steps its run had taken then, and the run's time and machine up to that step."""
    return checkpoint_budget(record["step"], record["train_config"], record.get("train_seconds"), record.get("machine"))


def merge_lineages(lineages: list[list[dict]]) -> list[dict]:
    """The runs of several ledgers, each once, in the order they first appear.

    Raises:
        ValueError: a run that two ledgers record differently (two of its checkpoints went in).
    """
    merged: dict[str, dict] = {}
    for lineage in lineages:
        for entry in lineage:
            if merged.setdefault(entry["run"], entry) != entry:
                raise ValueError(
                    f"run {entry['run']} is in the ledger twice, differently: {merged[entry['run']]}, {entry}"
                )
    return list(merged.values())


def average_ledger(
    name: str,
    manifest: dict,
    shipped_card: dict | None,
    sources: Lineages = Lineages(),
) -> list[dict]:
    """The ledger of the weight average ``name`` (its ``manifest`` as
    :mod:`benchmarks.reproduce.soup` writes it): every run behind every ingredient, each once --
    a checkpoint's run with its lineage (:func:`card_ledger`), another average's ledger
    (``averaged``, as in :func:`card_ledger`), a parent stored in ``parents/`` by
    :func:`parent_lineage`'s ledger; the shipped file's own run at the step it shipped,
    or its own average, or the shipped file itself (``shipped``: a point on a line from it), by the
    shipped card's ledger -- then one line for the averaging, which adds no iterations and names the
    ingredients.

    Raises:
        ValueError: an ingredient that is neither a training checkpoint nor an average in a run
            folder, or a lineage :func:`card_ledger` cannot write.
    """
    shipped = previous_ledger(shipped_card) if shipped_card is not None else []
    if shipped and shipped[-1]["run"] == name:  # the average the shipped file was stored from
        return shipped
    lineages, parts = [], []
    kind = average_kind(manifest)
    weighted = kind == "weighted"
    for record in manifest["ingredients"]:
        path = Path(record["path"])
        if "train_config" in record:  # a checkpoint: runs/RUN/checkpoints/step-N.safetensors
            run, step = path.parent.parent.name, record["step"]
            if shipped and (shipped[-1]["run"], shipped[-1]["iterations"]) == (run, step):
                lineages.append(shipped)
            else:
                config, spent = record["train_config"], ingredient_budget(record)
                lineages.append(card_ledger(run, config, spent, shipped_card, sources))
            parts.append(f"{run} step {step}" + (f" (share {record['share']:g})" if weighted else ""))
        elif sources.averaged is not None and in_run_folder(path) and (inner := sources.averaged(path.stem)):
            lineages.append(average_ledger(path.stem, inner, shipped_card, sources))
            parts.append(f"{path.stem} (an average" + (f", share {record['share']:g})" if weighted else ")"))
        elif is_stored_parent(path) and (found := parent_lineage(path.stem, shipped_card, sources)):
            lineages.append(found[0])
            parts.append(f"{path.stem} (stored in float16" + (f", share {record['share']:g})" if weighted else ")"))
        elif shipped and sources.shipped is not None and sources.shipped(path, record["sha256"]):
            lineages.append(shipped)
            share = f", share {record['share']:g}" if weighted else ""
            parts.append(f"{path.stem} (shipped, sha256 {shipped_card['sha256'][:12]}{share})")
        else:
            raise ValueError(
                f"{name}: ingredient {path} is neither a training checkpoint nor a weight average in a run folder "
                "nor a stored parent with a known lineage nor the shipped file: its ledger is unknown"
            )
    averaging = {
        "run": name,
        "iterations": 0,
        "batch": 0,
        "patch": 0,
        "device": "none (no training)",
        "minutes": 0.0,
        "started_from": f"the {kind} average of {len(parts)} weights: {', '.join(parts)}",
        "seed": None,
    }
    return [*merge_lineages(lineages), averaging]


def average_kind(manifest: dict) -> str:
    """``"weighted"`` where the average of ``manifest`` gave its ingredients unequal shares (``soup
    --shares``), else ``"uniform"`` (a manifest without shares is a uniform average)."""
    shares = {record.get("share") for record in manifest["ingredients"]}
    return "weighted" if len(shares) > 1 else "uniform"


def run_lineage(name: str) -> tuple[dict, dict]:
    """The train config of run ``name``'s newest checkpoint and its budget (for :func:`card_ledger`)."""
    ckpt = latest_checkpoint(RUNS / name / "checkpoints")
    if ckpt is None:
        raise ValueError(f"no checkpoint of run {name} in {RUNS / name} (link its folder there): its ledger is unknown")
    return ckpt.info["train_config"], budget(name)


def is_shipped_file(path: Path, digest: str) -> bool:
    """Whether ``path`` (relative to the repository, or absolute) is one of the package's shipped weights
    files (:func:`~flowkit.models.available`) whose tensors, read as :mod:`benchmarks.reproduce.soup` reads an
    ingredient, have the digest ``digest`` now: the file an average took is the file shipped today."""
    file = (path if path.is_absolute() else REPO / path).resolve()
    if file not in {weights_path(name, scale).resolve() for name, scale in available()}:
        return False
    return tensor_digest(load_model(file).state_dict()) == digest


#: Where :func:`card_ledger`, :func:`average_ledger` and :func:`parent_lineage` read a lineage on this machine:
#: the run folders, their averages' manifests and grown records, the stored parents with their records, and
#: the shipped files.
SOURCES = Lineages(run_lineage, average_manifest, grown_record, holds_last_weights, parent_record, is_shipped_file)


def average_training(manifest: dict, averaging: dict) -> dict:
    """The ``training`` record of a card for a weight average: its ingredients (the run and step
    of a checkpoint, the name of an average, of a stored parent or of the shipped file; each with its tensor
    digest) and a budget of no
    iterations (the averaging line of its ledger; the runs' budgets are in the ledger); a weighted
    average gives each ingredient's share."""
    kind = average_kind(manifest)
    ingredients = []
    for record in manifest["ingredients"]:
        path = Path(record["path"])
        if "train_config" in record:
            where = {"run": path.parent.parent.name, "step": record["step"]}
        elif is_stored_parent(path):
            where = {"stored_parent": path.stem}
        elif in_run_folder(path):
            where = {"average": path.stem}
        else:  # what average_ledger accepts beside those: the shipped file
            where = {"shipped": path.stem}
        share = {"share": record["share"]} if kind == "weighted" else {}
        ingredients.append(where | {"sha256": record["sha256"]} | share)
    return {
        "average": {"method": f"{kind} mean of every floating-point tensor", "ingredients": ingredients},
        "budget": {k: averaging[k] for k in ("iterations", "batch", "patch")} | {"wall_seconds": 0.0},
    }


#: The training data of the study's runs (:data:`RUN_DATA` names the exceptions).
STUDY_DATA = "T91 + BSD200 (the 291 images), minus the last 10 files held out for validation"

#: A shipped file is stored in the first of these dtypes that moves Set5's PSNR by at most
#: STORAGE_TOLERANCE dB against float32 (issue 25: half the bytes per update when it is free).
STORAGE_DTYPES = (torch.float16, torch.bfloat16)
STORAGE_TOLERANCE = 0.01


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float16`` -> ``"float16"`` (as cards and tables write it)."""
    return str(dtype).removeprefix("torch.")


def set5_psnr(net: RescalingModel) -> float:
    """Set5 Y-PSNR of ``net`` (one z draw for IRN, torch seeded 0)."""
    torch.manual_seed(0)
    return evaluate(net, {"Set5": data_root() / "eval" / "Set5"}, draws=1, progress=False)["Set5"]["psnr"]


def storage_dtype(net: RescalingModel) -> tuple[torch.dtype, dict[str, float]]:
    """The dtype to store ``net`` in, by :data:`STORAGE_TOLERANCE`, and each candidate's Set5
    PSNR change against float32 (dB). ``net`` is left as it was."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    reference = set5_psnr(net)
    changes, chosen = {}, torch.float32
    try:
        for dtype in STORAGE_DTYPES:
            net.load_state_dict(cast_floating(cast_floating(state, dtype), torch.float32))
            change = changes[dtype_name(dtype)] = set5_psnr(net) - reference
            if chosen is torch.float32 and abs(change) <= STORAGE_TOLERANCE:
                chosen = dtype
    finally:
        net.load_state_dict(state)
    return chosen, changes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--irn-draws", type=int, default=5, help="the IRN evaluation to put in the cards")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[f"{m}-x{s}" for m, s in SHIPPED_RUNS],
        help="export only these (default: every shipped model whose run is here)",
    )
    args = parser.parse_args(argv)
    for (model, scale), name in SHIPPED_RUNS.items():
        if args.only and f"{model}-x{scale}" not in args.only:
            continue
        if name in CONTINUING_RUNS and latest_checkpoint(RUNS / name / "checkpoints") is None:
            print(f"{name}: no checkpoint in {RUNS / name} (link the run folder there); not shipped")
            continue
        if name not in CONTINUING_RUNS and not finished(name):
            print(f"{name}: not finished; not shipped")
            continue
        manifest = average_manifest(name)
        source = final_weights(name)
        net = load_model(source, expect_model=model, expect_scale=scale)
        target = weights_path(model, scale)
        dtype, changes = storage_dtype(net)
        shipped_card = model_card(model, scale) if target.with_suffix(".json").exists() else None
        if manifest is not None:
            ledger = average_ledger(name, manifest, shipped_card, SOURCES)
            training = average_training(manifest, ledger[-1])
        else:
            train_config, spent = run_lineage(name)
            ledger = card_ledger(name, train_config, spent, shipped_card, SOURCES)
            training = {"config": train_config | {"train_dirs": ["<shared data>/train"]}, "budget": spent}
        # evaluated before anything is written: an interrupted export leaves the shipped weights and card as they were
        report = evaluate_run(name, source, model, scale, draws=args.irn_draws if model == "irn" else 5)
        digest = save_model(net, target, extra={"flowkit.card": target.with_suffix(".json").name}, dtype=dtype)
        card = {
            "model": model,
            "scale": scale,
            "parameters": net.num_parameters(),
            "config": net.config.to_dict(),
            "sha256": digest,
            "training": training | {"data": RUN_DATA.get(name, STUDY_DATA), "command": training_command(name)},
            "storage": {
                "dtype": dtype_name(dtype),
                "set5_psnr_change_db": changes,
                "rule": f"the first of float16, bfloat16 within {STORAGE_TOLERANCE} dB of float32 on Set5, "
                "else float32",
            },
            "ledger": ledger,
            "ledger_total": ledger_totals(ledger),
            "evaluation": {
                s: {k: r[k] for k in ("label", "images", "psnr", "ssim", "niqe", "niqe_images", "piqe", "draws")}
                for s, r in report.items()
            },
            "notes": " ".join(
                [
                    "Y-PSNR/SSIM with border crop = scale through the 8-bit LR; Urban100 is the half-resolution "
                    "copy. Trained with the study's small budget: far fewer iterations than the paper.",
                    *([RUN_NOTES[name]] if name in RUN_NOTES else []),
                ]
            ),
        }
        text = (json.dumps(card, indent=1) + "\n").encode()
        atomic_write(target.with_suffix(".json"), lambda f, text=text: f.write(text))
        print(f"shipped {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
