"""The ``flowkit`` command: ``demo``, ``moons``, ``train``, ``eval``, ``downscale``, ``upscale``.

User errors (bad files, wrong scale, wrong weights, unwritable outputs, a diverging
run) print one line on stderr and exit non-zero; set ``FLOWKIT_DEBUG=1`` to get the
traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import warnings
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn, TextIO

import flowkit

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from flowkit.models import RescalingModel
    from flowkit.rescale import Job

EXIT_USAGE, EXIT_FAILURE, EXIT_INTERRUPTED = 2, 1, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``flowkit: error: ...``."""

    def error(self, message: str) -> NoReturn:  # noqa: D401 - argparse API
        print(f"flowkit: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


# ---------------------------------------------------------------------------------------- helpers
def _get_model(name: str, scale: int, weights: str | None, device: torch.device) -> RescalingModel:
    """The model to run: ``--weights`` file, else shipped weights, else (bicubic) none."""
    from flowkit.models import build, load_model, pretrained

    if name == "bicubic":
        if weights:
            raise ValueError("the bicubic model takes no --weights")
        return build("bicubic", scale).to(device).eval()
    if weights:
        return load_model(weights, expect_model=name, expect_scale=scale, map_location=device).eval()
    return pretrained(name, scale, map_location=device)


def _with_z(model: RescalingModel, z: str | None) -> RescalingModel:
    """``model`` with IRN's test-time latent set by ``--z`` (None: the model's own)."""
    if z is None:
        return model
    if model.name != "irn":
        raise ValueError(f"--z applies to IRN only, not {model.name}")
    model.config = model.config.replace(z_mode=z)
    return model


def _dtype(args: argparse.Namespace, device: torch.device) -> torch.dtype:
    """The torch dtype of ``--dtype``; float16 only on CUDA (CPUs without float16 arithmetic
    run it many times slower than float32); bfloat16 warns where it is emulated."""
    from flowkit.precision import DTYPES, native_bfloat16, warn_if_emulated

    if args.dtype == "float16" and device.type != "cuda":
        neither = "float32 (this CPU has no bfloat16 instructions either)"
        instead = "--dtype bfloat16" if native_bfloat16(device) else neither
        raise ValueError(
            f"--dtype float16 needs a CUDA device (on the CPU it is many times slower than float32); use {instead}"
        )
    if args.dtype == "bfloat16":
        warn_if_emulated(device, "--dtype bfloat16")
    return DTYPES[args.dtype]


def _workers(args: argparse.Namespace, device: torch.device) -> int:
    """``--workers``, else 2 reader/writer threads on CUDA and none on the CPU."""
    if args.workers is not None:
        from flowkit.rescale import check_workers

        check_workers(args.workers, "--workers")
        return args.workers
    return 2 if device.type == "cuda" else 0


def _plan(args: argparse.Namespace) -> list[Job]:
    """The checked job list of ``downscale`` / ``upscale`` (nothing is written before it)."""
    from flowkit.rescale import check_tiles, plan

    check_tiles(args.tile, args.overlap)
    existing = "overwrite" if args.overwrite else "skip" if args.skip_existing else "refuse"
    return plan(args.input, args.output, existing=existing)  # a str keeps "out/"


def _scale_arg(text: str) -> int:
    from flowkit.models.base import check_scale

    try:
        return check_scale(int(text) if text.isdigit() else text, "--scale")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--scale: ")) from None


def _steps_arg(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of steps >= 0, got {text!r}")
    return int(text)


# ---------------------------------------------------------------------------------------- commands
def _cmd_moons(args: argparse.Namespace) -> int:
    from flowkit.examples import two_moons

    two_moons.main(steps=args.steps, out=args.out, seed=args.seed)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from flowkit.examples import rescale_demo

    return rescale_demo.main(
        model_name=args.model,
        scale=args.scale,
        weights=args.weights,
        image=args.image,
        out_dir=args.out,
        train_data=args.train_data,
        train_steps=args.train_steps,
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from flowkit.train import Trainer, list_checkpoints, load_config

    overrides = list(args.set or [])
    if args.train_dir:
        overrides.append("train_dirs=" + json.dumps([str(Path(d)) for d in args.train_dir]))
    if args.init_weights:
        overrides.append("init_weights=" + json.dumps(args.init_weights))
    config = load_config(args.config, overrides)
    if not config.train_dirs:
        from flowkit.image.datasets import data_folder

        config.train_dirs = [str(data_folder("train", "--train-dir"))]
    out = Path(args.out)
    if not args.resume and list_checkpoints(out / "checkpoints"):
        raise ValueError(f"{out} already has checkpoints: pass --resume to continue, or choose another --out")
    trainer = Trainer.from_config(
        config, out, resume=args.resume, progress=not args.quiet, tensorboard=not args.no_tensorboard
    )
    try:
        metrics = trainer.run()
    finally:
        trainer.close()
    if trainer.main:
        val = metrics.get("val_psnr")
        print(
            f"done: step {trainer.step}, loss {metrics.get('total', float('nan')):.4f}"
            + (f", validation PSNR {val:.2f} dB" if val is not None else "")
            + f"; checkpoints in {out / 'checkpoints'}"
        )
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from flowkit.atomic import atomic_write
    from flowkit.device import resolve_device
    from flowkit.evaluation import evaluate, report_table
    from flowkit.image.datasets import data_folder
    from flowkit.precision import subnets_in

    device = resolve_device(args.device)
    dtype = _dtype(args, device)
    data = Path(args.data) if args.data else data_folder("eval", "--data")
    sets = {name: data / name for name in args.sets}
    missing = [str(p) for p in sets.values() if not p.is_dir()]
    if missing:
        raise ValueError(f"evaluation set folder(s) not found: {', '.join(missing)}")
    model = _with_z(_get_model(args.model, args.scale, args.weights, device), args.z)
    reports = _eval_report_paths(args, model)
    with subnets_in(model, dtype):
        report = evaluate(
            model, sets, draws=args.draws, niqe_params=args.niqe_params, device=device, progress=not args.quiet
        )
    weights = args.weights or "shipped weights" if model.name != "bicubic" else "no weights"
    title = f"{model.name} x{model.scale} ({weights})"
    if args.dtype != "float32":
        title += f", {args.dtype} subnetworks"
    table = report_table(report)
    print(f"{title}\n\n{table}")
    if reports:
        json_path, md_path = reports
        json_path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(
            {
                "model": model.name,
                "config": model.config.to_dict(),
                "weights": args.weights,
                "dtype": args.dtype,
                "sets": report,
            },
            indent=1,
        ).encode()
        atomic_write(json_path, lambda f: f.write(payload))
        atomic_write(md_path, lambda f: f.write(f"{title}\n\n{table}\n".encode()))
        print(f"wrote {json_path} and {md_path.name}")
    return 0


def _eval_report_paths(args: argparse.Namespace, model: RescalingModel) -> tuple[Path, Path] | None:
    """The JSON and markdown files ``flowkit eval --out`` writes, checked before the evaluation runs.

    Their name says what was evaluated: ``eval-<model>-x<scale>``, then the weights file's stem, a dtype other
    than float32 and an IRN ``--z`` where given, so reports of two checkpoints or two settings get two names.
    A report that exists is kept unless ``--overwrite`` is passed."""
    if not args.out:
        return None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: --out is a file; it names the folder the report goes in")
    parts = ["eval", model.name, f"x{model.scale}"]
    if args.weights:
        parts.append(Path(args.weights).stem)
    if args.dtype != "float32":
        parts.append(args.dtype)
    if args.z:
        parts.append(f"z-{args.z}")
    stem = "-".join(parts)
    paths = (out / f"{stem}.json", out / f"{stem}.md")
    existing = [str(p) for p in paths if p.exists()]
    if existing and not args.overwrite:
        raise ValueError(f"{', '.join(existing)}: a report exists; pass --overwrite to replace it, or another --out")
    return paths


def _cmd_downscale(args: argparse.Namespace) -> int:
    from flowkit.device import resolve_device
    from flowkit.image.io import load, save_png
    from flowkit.precision import subnets_in
    from flowkit.rescale import (
        META_MODEL,
        META_SCALE,
        META_SEARCH,
        META_SIZE,
        META_WEIGHTS,
        compile_model,
        downscale_image,
        run_jobs,
        search_downscale_image,
        weights_id,
    )

    if args.search and args.model != "fgrn":
        raise ValueError(f"--search applies to FGRN only, not {args.model}")
    if args.search and args.tile is not None:
        raise ValueError("--search works on whole images: drop --tile")
    device = resolve_device(args.device)
    dtype, workers = _dtype(args, device), _workers(args, device)
    jobs = _plan(args)
    model = _get_model(args.model, args.scale, args.weights, device)
    if args.compile:
        compile_model(model)
    wid = weights_id(args.weights, model)

    def compute(job: Job, hr: Tensor) -> tuple[Tensor, str]:
        if args.search:
            lr = search_downscale_image(model, hr.to(device), args.search)
        else:
            lr = downscale_image(model, hr.to(device), tile=args.tile, overlap=args.overlap)
        return lr.cpu(), f"{hr.shape[1]}x{hr.shape[2]}"

    def write(job: Job, result: tuple[Tensor, str]) -> None:
        lr, size = result
        meta = {META_MODEL: model.name, META_SCALE: model.scale, META_SIZE: size, META_WEIGHTS: wid}
        save_png(job.target, lr, metadata=meta | ({META_SEARCH: args.search} if args.search else {}))

    with subnets_in(model, dtype):
        failures = run_jobs(
            jobs,
            lambda job: load(job.source),
            compute,
            write,
            workers=workers,
            progress=not args.quiet,
            desc=f"downscale x{args.scale}",
        )
    return EXIT_FAILURE if failures else 0


def _parse_size(text: str, path: Path) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{path}: bad {text!r} in flowkit.original_size metadata") from None
    return h, w


def _cmd_upscale(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from flowkit.device import resolve_device
    from flowkit.image.io import load, save_png
    from flowkit.models.base import check_scale
    from flowkit.precision import subnets_in
    from flowkit.rescale import (
        META_MODEL,
        META_SCALE,
        META_SIZE,
        META_WEIGHTS,
        compile_model,
        lr_metadata,
        run_jobs,
        upscale_image,
        weights_id,
    )

    device = resolve_device(args.device)
    dtype, workers = _dtype(args, device), _workers(args, device)
    jobs = _plan(args)
    models: dict[tuple[str, int], object] = {}
    precision = ExitStack()  # each model's subnetworks in args.dtype until the end

    def read(job: Job) -> tuple[dict[str, str], Tensor]:
        return lr_metadata(job.source), load(job.source)

    def compute(job: Job, item: tuple[dict[str, str], Tensor]) -> Tensor:
        meta, lr = item
        name = args.model or meta.get(META_MODEL)
        scale = args.scale or (int(meta[META_SCALE]) if META_SCALE in meta else None)
        if name is None or scale is None:
            raise ValueError(
                f"{job.source}: no flowkit metadata (not written by `flowkit downscale`); pass --model and --scale"
            )
        check_scale(scale, f"{job.source} (its PNG metadata)")
        if (name, scale) not in models:
            models[(name, scale)] = _with_z(_get_model(name, scale, args.weights, device), args.z)
            precision.enter_context(subnets_in(models[(name, scale)], dtype))
            if args.compile:
                compile_model(models[(name, scale)])
        model = models[(name, scale)]
        recorded = meta.get(META_WEIGHTS)
        if recorded and recorded != weights_id(args.weights, model) and not args.quiet:
            tqdm.write(
                f"flowkit: warning: {job.source} was downscaled with weights {recorded}, "
                f"upscaling with {weights_id(args.weights, model)}",
                file=sys.stderr,
            )
        size = None
        if META_SIZE in meta and not args.no_crop:
            size = _parse_size(meta[META_SIZE], job.source)
        if size is not None and (-(-size[0] // scale), -(-size[1] // scale)) != tuple(lr.shape[-2:]):
            raise ValueError(
                f"{job.source}: LR is {lr.shape[1]}x{lr.shape[2]}, which does not match the recorded "
                f"original size {size[0]}x{size[1]} at x{scale}"
            )
        return upscale_image(model, lr.to(device), size=size, tile=args.tile, overlap=args.overlap).cpu()

    with precision:
        failures = run_jobs(
            jobs,
            read,
            compute,
            lambda job, hr: save_png(job.target, hr),
            workers=workers,
            progress=not args.quiet,
            desc="upscale",
        )
    return EXIT_FAILURE if failures else 0


# ---------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from flowkit.device import DEVICES
    from flowkit.models import MODELS
    from flowkit.precision import DTYPES

    parser = _Parser(
        prog="flowkit",
        description="Invertible layers for normalizing flows, and FGRN/IRN image rescaling.",
    )
    parser.add_argument("--version", action="version", version=f"flowkit {flowkit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def model_args(
        p: argparse.ArgumentParser,
        model_default: str | None = "fgrn",
        scale_default: int | None = 4,
        tiles: bool = True,
    ) -> None:
        p.add_argument(
            "--model",
            choices=sorted(MODELS),
            default=model_default,
            help=f"model (default: {model_default or 'from the PNG metadata'})",
        )
        p.add_argument(
            "--scale",
            type=_scale_arg,
            default=scale_default,
            help=f"2 or 4 (default: {scale_default or 'from the PNG metadata'})",
        )
        p.add_argument("--weights", help="a .safetensors file from `flowkit train` (default: shipped weights)")
        p.add_argument("--device", default="auto", choices=DEVICES)
        p.add_argument(
            "--dtype",
            default="float32",
            choices=list(DTYPES),
            help="compute dtype of the subnetworks; the invertible path and the 8-bit LR stay "
            "float32 (default: float32)",
        )
        if tiles:
            p.add_argument("--tile", type=int, help="tile size in input pixels (default: automatic when large)")
            p.add_argument("--overlap", type=int, help="tile overlap in input pixels (default: 32)")
            p.add_argument(
                "--compile",
                action="store_true",
                help="torch.compile the model: faster for many images of one size, slow first image "
                "(needs a C++ compiler on CPU)",
            )
            p.add_argument(
                "--workers",
                type=int,
                help="threads that read and write files while the model runs (default: 2 on CUDA, 0 on the CPU)",
            )
            existing = p.add_mutually_exclusive_group()
            existing.add_argument(
                "--overwrite",
                action="store_true",
                help="replace output files that exist (default: refuse, writing nothing)",
            )
            existing.add_argument(
                "--skip-existing", action="store_true", help="keep output files that exist and skip their inputs"
            )
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    demo = sub.add_parser("demo", help="downscale and upscale a bundled sample image and print PSNR")
    demo.add_argument("--model", choices=["fgrn", "irn"], default="fgrn")
    demo.add_argument("--scale", type=_scale_arg, default=4)
    demo.add_argument("--weights", help="weights file (default: shipped weights)")
    demo.add_argument("--image", help="use this image instead of the bundled test card")
    demo.add_argument("--out", default="flowkit-demo", help="folder for the PNGs (default: flowkit-demo)")
    demo.add_argument("--train-data", help="no shipped weights? train briefly on the images in this folder")
    demo.add_argument("--train-steps", type=int, default=300, help="steps of that brief training (default: 300)")
    demo.set_defaults(func=_cmd_demo)

    moons = sub.add_parser("moons", help="fit a 2-D density (two moons) with flowkit layers and plot it")
    moons.add_argument("--steps", type=int, default=1000, help="training steps (default: 1000)")
    moons.add_argument("--out", default="two_moons.png", help="PNG to write (default: two_moons.png)")
    moons.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    moons.set_defaults(func=_cmd_moons)

    from flowkit.train.config import list_bundled_configs

    train = sub.add_parser(
        "train",
        help="train FGRN or IRN",
        description="Train a model. Bundled configs: " + ", ".join(list_bundled_configs()),
    )
    train.add_argument("--config", help="bundled config name or JSON file")
    train.add_argument(
        "--train-dir",
        action="append",
        help="folder of training images (repeatable; default: the config's, else $FLOWKIT_DATA/train)",
    )
    train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set iterations=2000 --set model_config.gamma=0.01",
    )
    train.add_argument("--out", required=True, help="run folder (checkpoints, logs, TensorBoard)")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument(
        "--init-weights",
        metavar="NAME|FILE",
        help="start from a shipped model (e.g. fgrn-x4) or a weights file, with a fresh optimiser; "
        "the network is the file's where the config leaves it unset",
    )
    train.add_argument("--no-tensorboard", action="store_true")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_train)

    ev = sub.add_parser("eval", help="PSNR/SSIM/NIQE/PIQE on evaluation sets, as the papers report them")
    model_args(ev, tiles=False)
    ev.add_argument("--data", help="folder with the evaluation sets (default: $FLOWKIT_DATA/eval)")
    ev.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD100", "Urban100"])
    ev.add_argument("--z", choices=["gaussian", "zero"], help="IRN latent at test time (default: the model's)")
    ev.add_argument("--draws", type=int, default=5, help="z draws averaged for IRN (default: 5)")
    ev.add_argument(
        "--niqe-params",
        help="niqe_pris_params.npz (default: $FLOWKIT_NIQE_PARAMS, else $FLOWKIT_DATA/niqe/; else no NIQE)",
    )
    ev.add_argument(
        "--out",
        help="folder for the JSON and markdown report, eval-<model>-x<scale>[-<weights>][-<dtype>][-z-<z>].json/.md",
    )
    ev.add_argument("--overwrite", action="store_true", help="replace a report that exists (default: refuse)")
    ev.set_defaults(func=_cmd_eval)

    down = sub.add_parser("downscale", help="downscale images to 8-bit PNGs with metadata")
    down.add_argument("input", help="image file or folder")
    down.add_argument("output", help="PNG file or folder (a trailing / makes a new folder)")
    model_args(down)
    down.add_argument(
        "--search",
        type=_steps_arg,
        default=0,
        metavar="STEPS",
        help="FGRN only: search the LR's rounding for STEPS steps (32 is a good start) so that the upscale "
        "reconstructs better; two upscales per step, whole images only (default: 0, no search)",
    )
    down.set_defaults(func=_cmd_downscale)

    up = sub.add_parser("upscale", help="upscale PNGs written by `flowkit downscale`")
    up.add_argument("input", help="PNG file or folder")
    up.add_argument("output", help="PNG file or folder (a trailing / makes a new folder)")
    model_args(up, model_default=None, scale_default=None)
    up.add_argument("--no-crop", action="store_true", help="keep the padded size instead of the recorded one")
    up.add_argument(
        "--z",
        choices=["gaussian", "zero"],
        help="IRN's latent: a Gaussian draw on every upscale (its default) or zero (deterministic)",
    )
    up.set_defaults(func=_cmd_upscale)

    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and return a non-zero code."""
    try:
        parser = build_parser()
    except ModuleNotFoundError as exc:  # an extra is not installed (flowkit.extras)
        print(f"flowkit: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    debug = bool(os.environ.get("FLOWKIT_DEBUG"))
    warnings.showwarning = _one_line_warning
    received: list[int] = []

    # SIGTERM unwinds like Ctrl-C: temporary files go, and a training run saves its last step
    def on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
        received.append(signum)
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if in_main_thread else None
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("flowkit: terminated" if received else "flowkit: interrupted", file=sys.stderr)
        return 128 + signal.SIGTERM if received else EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the command line shows one line, never a traceback
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"flowkit: error: {message}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"flowkit: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
