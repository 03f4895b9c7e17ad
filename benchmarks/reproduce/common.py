"""Shared pieces of the reproduction scripts: one training budget, resumable runs, cached evaluations.

Every run lives in ``benchmarks/reproduce/runs/<name>/`` (ignored by git); re-running a
script resumes unfinished training from its newest checkpoint and reuses finished
evaluations (``eval/<set>.json`` beside the checkpoints).
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from benchmarks.common import DEFAULT_DATA, machine
from flowkit.atomic import atomic_write
from flowkit.evaluation import evaluate, lr_quality
from flowkit.image.datasets import DATA_ENV
from flowkit.models import build, load_model
from flowkit.models.io import stored_tensors, tensor_digest
from flowkit.train import Trainer, load_config
from flowkit.train.checkpoint import latest_checkpoint

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs"
RUNS = HERE / "runs"
#: Parents of continuation lines stored in float16 and committed, each named after its run (``parents/README.md``).
STORED_PARENTS = HERE / "parents"
SETS = ("Set5", "Set14", "BSD100", "Urban100")


def data_root() -> Path:
    """The shared data folder: ``$FLOWKIT_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get(DATA_ENV, DEFAULT_DATA))


def train(name: str, base: str, overrides: list[str] = (), *, progress: bool = True) -> Path:
    """Train run ``name`` from ``configs/<base>.json`` plus overrides, resuming if it was
    interrupted; returns the newest checkpoint's weights file. A finished run is not retrained."""
    out = RUNS / name
    overrides = list(overrides) + ["train_dirs=" + json.dumps([str(data_root() / "train")])]
    config = load_config(CONFIGS / f"{base}.json", overrides)
    ckpt = latest_checkpoint(out / "checkpoints")
    if ckpt is not None and ckpt.step >= config.iterations:
        return ckpt.path.with_suffix(".safetensors")
    start = time.perf_counter()
    trainer = Trainer.from_config(config, out, resume=ckpt is not None, progress=progress, tensorboard=True)
    try:
        trainer.run()
    finally:
        trainer.close()
    timing = out / "wall_time.json"
    spent = json.loads(timing.read_text())["seconds"] if timing.exists() else 0.0
    timing.write_text(json.dumps({"seconds": spent + time.perf_counter() - start, "machine": machine()}))
    return latest_checkpoint(out / "checkpoints").path.with_suffix(".safetensors")


def seeded(name: str, seed: int) -> tuple[str, list[str]]:
    """Run name and config overrides for training seed ``seed``: seed 0 is the configs' own
    seed and the run keeps its name; another seed trains run ``<name>-s<seed>``."""
    return (f"{name}-s{seed}", [f"seed={seed}"]) if seed else (name, [])


def file_metadata(path: Path) -> dict[str, str]:
    """The string metadata in the header of safetensors file ``path`` (empty when it has none)."""
    with safe_open(str(path), framework="pt") as f:
        return f.metadata() or {}


def is_stored_parent(path: Path) -> bool:
    """Whether ``path`` names a parent stored in float16, ``parents/NAME.safetensors``
    (:mod:`benchmarks.reproduce.store_parent`), wherever the repository is."""
    return path.parent.name == STORED_PARENTS.name


def in_run_folder(path: Path) -> bool:
    """Whether ``path`` is a run folder's own file, ``runs/NAME/NAME.<ext>`` (an average's or a grown
    file), as opposed to a checkpoint in ``runs/NAME/checkpoints/`` or a file elsewhere."""
    return path.parent.name == path.stem


def average_manifest(name: str) -> dict[str, Any] | None:
    """The manifest of run folder ``name`` when it holds a weight average (``NAME.safetensors``
    beside ``NAME.json``, as :mod:`benchmarks.reproduce.soup` writes them), else None."""
    folder = RUNS / name
    if not (folder / f"{name}.safetensors").is_file() or not (folder / f"{name}.json").is_file():
        return None
    return json.loads((folder / f"{name}.json").read_text())


#: The metadata key of a grown file's record (:mod:`benchmarks.reproduce.grow` writes it).
GROWN_METADATA = "flowkit.grown"


def grown_record(name: str) -> dict[str, Any] | None:
    """The record of run folder ``name`` when it holds a grown file (``NAME.safetensors`` with
    :mod:`benchmarks.reproduce.grow`'s :data:`GROWN_METADATA` record), else None."""
    path = RUNS / name / f"{name}.safetensors"
    if not path.is_file():
        return None
    record = file_metadata(path).get(GROWN_METADATA)
    return json.loads(record) if record is not None else None


def finished(name: str, iterations: int | None = None) -> bool:
    """Whether run ``name`` has a checkpoint at ``iterations`` or later (default: the
    iteration count the run was configured with); a weight average is finished."""
    if average_manifest(name) is not None:
        return True
    ckpt = latest_checkpoint(RUNS / name / "checkpoints")
    if ckpt is None:
        return False
    return ckpt.step >= (iterations or ckpt.info["train_config"]["iterations"])


def final_weights(name: str) -> Path:
    """The weights file of run ``name``'s newest checkpoint, or of the weight average it holds."""
    if average_manifest(name) is not None:
        return RUNS / name / f"{name}.safetensors"
    return latest_checkpoint(RUNS / name / "checkpoints").path.with_suffix(".safetensors")


#: The dtype a continuation line's parent is stored in under :data:`STORED_PARENTS` (the shipped files'
#: storage: issue 25 measured float16 within 0.01 dB of float32).
PARENT_DTYPE = torch.float16


def stored_parent(run: str) -> Path:
    """Where run ``run``'s final weights are stored as a parent (``parents/RUN.safetensors``); its lineage
    record is the ``.json`` beside it."""
    return STORED_PARENTS / f"{run}.safetensors"


def has_weights(run: str) -> bool:
    """Whether run folder ``run`` holds a checkpoint or a weight average."""
    return average_manifest(run) is not None or latest_checkpoint(RUNS / run / "checkpoints") is not None


def stored_digest(run: str) -> str:
    """The tensor digest (:func:`~flowkit.models.io.tensor_digest`) of run ``run``'s final weights in
    :data:`PARENT_DTYPE`."""
    return tensor_digest(stored_tensors(load_model(final_weights(run)), PARENT_DTYPE))


def holds_last_weights(run: str) -> bool:
    """Whether ``parents/RUN.safetensors`` holds run ``run``'s final weights in :data:`PARENT_DTYPE` (their
    tensor digests agree); False when the file or the run folder is absent."""
    path = stored_parent(run)
    if not path.is_file() or not has_weights(run):
        return False
    return file_metadata(path).get("flowkit.sha256") == stored_digest(run)


def parent_record(run: str) -> dict[str, Any] | None:
    """The lineage record ``parents/RUN.json`` (:mod:`benchmarks.reproduce.store_parent` writes it from the run
    folder) when its ``sha256`` is the tensor digest of the stored ``parents/RUN.safetensors``, else None: the
    ledger behind the stored weights once the run folder is gone."""
    path = stored_parent(run)
    record = path.with_suffix(".json")
    if not path.is_file() or not record.is_file():
        return None
    data = json.loads(record.read_text())
    return data if data.get("sha256") == file_metadata(path).get("flowkit.sha256") else None


def run_report(
    name: str,
    base: str,
    overrides: list[str],
    model: str,
    scale: int,
    *,
    train_first: bool,
    iterations: int | None = None,
    draws: int = 5,
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(evaluation, budget)`` of run ``name`` (trained first when ``train_first``), or None
    with a note when it has not reached ``iterations`` (default: its configured count)."""
    if train_first:
        train(name, base, overrides)
    if not finished(name, iterations):
        print(f"{name}: not trained yet (run with --train); skipped")
        return None
    return evaluate_run(name, final_weights(name), model, scale, draws=draws), budget(name)


def read_log(folder: Path) -> list[dict[str, Any]]:
    """The records of ``folder/log.jsonl``, the trainer's log, in order (blank lines skipped)."""
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if line.strip()]


def window_means(records: list[dict[str, Any]], end: int, steps: int, keys: list[str]) -> dict[str, float | None]:
    """For each key, the mean over the records with a step in ``(end - steps, end]`` that carry
    it (``None`` where none does)."""
    recent = [r for r in records if end - steps < r["step"] <= end]
    means = {}
    for key in keys:
        values = [r[key] for r in recent if key in r]
        means[key] = sum(values) / len(values) if values else None
    return means


def training_end(name: str, steps: int = 200) -> dict[str, float]:
    """FGRN's flow at the end of run ``name``: the means, over the logged records of its last
    ``steps`` steps, of ``logdet`` (log|det J_F| per LR element; below 0, F contracts),
    ``exact`` (the fraction of the representation the 8-bit LR gives back exactly) and
    ``guide_l1`` (the mean absolute difference of F's output, the LR before quantisation,
    from the bicubic LR)."""
    records = read_log(RUNS / name)
    means = window_means(records, records[-1]["step"], steps, ["logdet", "exact", "guide_l1"])
    missing = [key for key, value in means.items() if value is None]
    if missing:
        raise ValueError(f"run {name}: no record of {missing} in its last {steps} logged steps")
    return means


def budget(name: str) -> dict[str, Any]:
    """The training budget of run ``name``: its newest checkpoint's step and config, and the
    wall time and machine from ``wall_time.json`` (written by :func:`train`) or else from the
    checkpoint's own record (``train_seconds``, ``machine``: runs of ``flowkit train``)."""
    out = RUNS / name
    ckpt = latest_checkpoint(out / "checkpoints")
    timing = json.loads((out / "wall_time.json").read_text()) if (out / "wall_time.json").exists() else {}
    seconds = timing.get("seconds", ckpt.info.get("train_seconds"))
    return checkpoint_budget(
        ckpt.step, ckpt.info["train_config"], seconds, timing.get("machine", ckpt.info.get("machine"))
    )


def checkpoint_budget(step: int, train_config: dict[str, Any], seconds: float | None, machine: dict | None) -> dict:
    """A budget as the study's tables and cards write it: ``step`` iterations of ``train_config``'s
    batch, patch and learning rate, ``seconds`` of wall time on ``machine``."""
    return {
        "iterations": step,
        "batch": train_config["batch_size"],
        "patch": train_config["patch_size"],
        "lr": train_config["lr"],
        "wall_seconds": seconds,
        "machine": machine,
    }


def cached_sets(folder: Path, sets: tuple[str, ...], measure: Callable[[str], Any], prefix: str = "") -> dict[str, Any]:
    """``{set: measure(set)}`` for each of ``sets``, each result cached in
    ``folder/<prefix><set>.json`` (written atomically) and read back from there when present, so
    ``measure`` runs only for the sets not cached yet."""
    out = {}
    for s in sets:
        cache = folder / f"{prefix}{s}.json"
        if not cache.exists():
            text = json.dumps(measure(s), indent=1).encode()
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(cache, lambda f, text=text: f.write(text))
        out[s] = json.loads(cache.read_text())
    return out


def evaluate_run(
    name: str,
    weights: Path | None,
    model: str,
    scale: int,
    *,
    z_mode: str | None = None,
    sets: tuple[str, ...] = SETS,
    draws: int = 5,
) -> dict[str, Any]:
    """Evaluate a run's final weights (or the bicubic baseline when ``weights`` is None) on the
    evaluation sets (IRN: ``draws`` Gaussian z averaged per image; ``z_mode="zero"``: tested with z = 0).

    Each set is evaluated with torch seeded 0 and cached in ``runs/<name>/eval/<set>.json``
    (``eval-z0`` with z = 0, ``-draws<N>`` added for other than 5 draws), so sets evaluated in
    separate processes (:mod:`benchmarks.reproduce.eval_run`, one per core) give the same
    numbers as one process.
    """

    @functools.cache
    def net():
        loaded = (
            build("bicubic", scale) if weights is None else load_model(weights, expect_model=model, expect_scale=scale)
        )
        if z_mode is not None:
            loaded.config = loaded.config.replace(z_mode=z_mode)
        return loaded

    def measure(s: str) -> dict[str, Any]:
        model = net()  # built before seeding: loading may draw random numbers
        torch.manual_seed(0)
        result = evaluate(
            model, {s: data_root() / "eval" / s}, draws=draws, niqe_params=data_root() / "niqe" / "niqe_pris_params.npz"
        )[s]
        result.pop("per_image")
        return result

    folder = RUNS / name / ("eval" + ("-z0" if z_mode == "zero" else "") + ("" if draws == 5 else f"-draws{draws}"))
    return cached_sets(folder, sets, measure)


def _shipped_folder(name: str, scale: int) -> Path:
    """``runs/shipped-lr/<name>-x<scale>-<digest>/``: measurements of a shipped file, kept
    under its weights' digest so that re-shipped weights are measured anew."""
    from flowkit.models import model_card

    return RUNS / "shipped-lr" / f"{name}-x{scale}-{model_card(name, scale)['sha256'][:12]}"


def shipped_lr_fidelity(name: str, scale: int, sets: tuple[str, ...] = SETS) -> dict[str, dict[str, float]]:
    """The LR fidelity (:func:`flowkit.metrics.lr_fidelity`, set means) of the shipped model
    ``name`` at ``scale``, downscaling only; cached per set in :func:`_shipped_folder`."""
    from flowkit.image.datasets import EvalSet
    from flowkit.layers.quantize import quantize
    from flowkit.metrics import LR_FIDELITY, lr_fidelity
    from flowkit.models import pretrained

    net = functools.cache(lambda: pretrained(name, scale))

    @torch.no_grad()
    def measure(s: str) -> dict[str, float]:
        dataset = EvalSet(data_root() / "eval" / s, scale)
        rows = []
        for path in dataset.files:
            item = dataset.load(path)
            rows.append(lr_fidelity(quantize(net().downscale(item.hr.float()[None])), item.lr[None]))
        return {k: sum(r[k] for r in rows) / len(rows) for k in LR_FIDELITY if all(r[k] is not None for r in rows)}

    return cached_sets(_shipped_folder(name, scale), sets, measure)


def _lr_quality_per_image(net: Callable[[], Any], s: str, scale: int) -> list[dict[str, float | None]]:
    """:func:`flowkit.evaluation.lr_quality` of ``net()``'s 8-bit LR of each image of set ``s``, in
    the set's file order."""
    from flowkit.image.datasets import EvalSet
    from flowkit.layers.quantize import quantize

    dataset = EvalSet(data_root() / "eval" / s, scale)
    params = data_root() / "niqe" / "niqe_pris_params.npz"
    with torch.no_grad():
        return [lr_quality(quantize(net().downscale(dataset.load(p).hr.float()[None])), params) for p in dataset.files]


def bicubic_lr_quality(scale: int, sets: tuple[str, ...] = SETS) -> dict[str, list[dict[str, float | None]]]:
    """Per image, in each set's file order, the no-reference quality of Bicubic's 8-bit LR at
    ``scale`` (:func:`flowkit.evaluation.lr_quality`): the reference every shipped model's LR is
    paired with. Cached once per set in ``runs/shipped-lr/bicubic-x<scale>/``."""
    net = functools.cache(lambda: build("bicubic", scale))
    return cached_sets(
        RUNS / "shipped-lr" / f"bicubic-x{scale}", sets, lambda s: _lr_quality_per_image(net, s, scale), "quality-"
    )


def shipped_lr_quality(name: str, scale: int, sets: tuple[str, ...] = SETS) -> dict[str, dict[str, list]]:
    """Per image, the no-reference quality (:func:`flowkit.evaluation.lr_quality`) of the 8-bit LR of
    the shipped model ``name`` at ``scale`` beside that of Bicubic's 8-bit LR
    (:func:`bicubic_lr_quality`), as :func:`evaluate_run` makes both: ``{set: {"piqe": [[model,
    bicubic], ...], "niqe": [...]}}``, NIQE only for the images where both are defined.
    Downscaling only; cached per set in :func:`_shipped_folder` (``quality-<set>.json``)."""
    from flowkit.models import pretrained

    net = functools.cache(lambda: pretrained(name, scale))

    def measure(s: str) -> dict[str, list]:
        model = _lr_quality_per_image(net, s, scale)
        bicubic = bicubic_lr_quality(scale, (s,))[s]
        pairs: dict[str, list] = {"piqe": [], "niqe": []}
        for m, b in zip(model, bicubic, strict=True):
            for metric in pairs:
                if m[metric] is not None and b[metric] is not None:
                    pairs[metric].append([m[metric], b[metric]])
        return pairs

    return cached_sets(_shipped_folder(name, scale), sets, measure, prefix="quality-")


def shipped_roundtrip(scale: int, sets: tuple[str, ...] = SETS) -> dict[str, dict[str, float]]:
    """What the 8-bit LR file costs the shipped FGRN at ``scale``: the set means of
    :meth:`~flowkit.models.FGRN.roundtrip_gap`'s ``exact`` (the fraction of the representation
    recovered exactly from the 8-bit LR) and ``psnr_exact`` (the PSNR an exact round trip would
    reach) over the evaluation images. Cached per set beside :func:`shipped_lr_fidelity`'s
    (``roundtrip-<set>.json``)."""
    from flowkit.image.datasets import EvalSet
    from flowkit.models import pretrained

    net = functools.cache(lambda: pretrained("fgrn", scale).eval())

    def measure(s: str) -> dict[str, float]:
        dataset = EvalSet(data_root() / "eval" / s, scale)
        gaps = [net().roundtrip_gap(dataset.load(path).hr.float()[None]) for path in dataset.files]
        return {k: sum(g[k].item() for g in gaps) / len(gaps) for k in ("exact", "psnr_exact")}

    return cached_sets(_shipped_folder("fgrn", scale), sets, measure, prefix="roundtrip-")
