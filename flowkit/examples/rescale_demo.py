"""The main job of the README: rescale a bundled sample image down and up, print PSNR.

Uses the shipped weights of the model when they exist. Without them (or to try your
own data) ``--train-data DIR`` trains a small model for a few hundred steps on the
CPU first — a demonstration, clearly labelled as such, not a converged model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import Tensor

from flowkit.examples.outputs import check_replaceable
from flowkit.examples.sample_image import test_card
from flowkit.image.datasets import mod_crop
from flowkit.image.io import load, save_png
from flowkit.metrics import lr_fidelity, piqe, psnr, ssim
from flowkit.models import ModelFileError, RescalingModel, build, load_model, pretrained
from flowkit.rescale import META_MODEL, META_SCALE, META_SIZE, downscale_image, upscale_image

__all__ = ["main"]

#: The PNG text chunk that marks a file as written by the demo; a later demo replaces only such files.
DEMO_MARK = "flowkit.demo"


def _outputs(out_dir: Path, name: str, model_name: str, scale: int) -> dict[str, Path]:
    """The demo's files in ``out_dir``; ``ValueError`` if ``out_dir`` is a file or one of them is not the demo's."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: --out is a file; it names the folder the demo writes to")
    paths = {
        "hr": out_dir / f"{name}-hr.png",
        "lr": out_dir / f"{name}-{model_name}-x{scale}-lr.png",
        "sr": out_dir / f"{name}-{model_name}-x{scale}-up.png",
        "bicubic": out_dir / f"{name}-bicubic-x{scale}-up.png",
    }
    for path in paths.values():
        check_replaceable(path, DEMO_MARK, "flowkit demo")
    return paths


def _brief_training(
    model_name: str, scale: int, train_data: str, steps: int, out_dir: Path
) -> tuple[RescalingModel, str]:
    from flowkit.train import Trainer, load_config

    print(
        f"No shipped weights for {model_name} x{scale}: training a DEMONSTRATION model first — {steps} steps "
        f"on the CPU with the images in {train_data}. This is far from a converged model; its PSNR says how far "
        f"a few minutes of training get, not what {model_name.upper()} can do."
    )
    overrides = [
        f"model={json.dumps(model_name)}",
        f"iterations={steps}",
        "workers=0",
        "val_holdout=0",
        "val_every=0",
        f"checkpoint_every={steps}",
        "log_every=25",
        "train_dirs=" + json.dumps([str(train_data)]),
    ]
    config = load_config(f"cpu-small-x{scale}", overrides)
    trainer = Trainer.from_config(config, out_dir / "demo-training", progress=True, tensorboard=False)
    try:
        trainer.run()
    finally:
        trainer.close()
    return trainer.model.eval(), f"demonstration run ({steps} CPU steps, {out_dir / 'demo-training'})"


def main(
    model_name: str = "fgrn",
    scale: int = 4,
    weights: str | None = None,
    image: str | None = None,
    out_dir: str | Path = "flowkit-demo",
    train_data: str | None = None,
    train_steps: int = 300,
) -> int:
    out_dir = Path(out_dir)
    name = Path(image).stem if image else "test-card"
    paths = _outputs(out_dir, name, model_name, scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if weights:
        model, source = load_model(weights, expect_model=model_name, expect_scale=scale).eval(), weights
    else:
        try:
            model, source = pretrained(model_name, scale), f"shipped weights {model_name}-x{scale}"
        except ModelFileError:
            if not train_data:
                raise ModelFileError(
                    f"no shipped weights for {model_name} x{scale} yet: pass --weights FILE, or --train-data DIR "
                    "to train a short demonstration model first"
                ) from None
            model, source = _brief_training(model_name, scale, train_data, train_steps, out_dir)

    hr = mod_crop(load(image) if image else test_card(), scale)
    start = time.perf_counter()
    lr = downscale_image(model, hr)
    sr = upscale_image(model, lr, size=tuple(hr.shape[-2:]))
    elapsed = time.perf_counter() - start
    bicubic = build("bicubic", scale)
    lr_bic = downscale_image(bicubic, hr)
    sr_bic = upscale_image(bicubic, lr_bic, size=tuple(hr.shape[-2:]))

    mark = {DEMO_MARK: "1"}
    meta = {**mark, META_MODEL: model.name, META_SCALE: scale, META_SIZE: f"{hr.shape[1]}x{hr.shape[2]}"}
    files = {
        "hr": (paths["hr"], hr, mark),
        "lr": (paths["lr"], lr, meta),
        "sr": (paths["sr"], sr, mark),
        "bicubic": (paths["bicubic"], sr_bic, mark),
    }
    for path, img, m in files.values():
        save_png(path, img, metadata=m)

    def scores(rec: Tensor, small: Tensor) -> tuple[float, float, float]:
        return (
            psnr(rec[None], hr[None], crop_border=scale).item(),
            ssim(rec[None], hr[None], crop_border=scale).item(),
            piqe(small[None]).item(),
        )

    # the LR is the file a user keeps: how far its colours and detail are from the bicubic LR
    lr_vs_bicubic = lr_fidelity(lr[None], lr_bic[None])["lr_psnr_rgb"]
    print(f"\n{name} ({hr.shape[2]}x{hr.shape[1]}), x{scale}, {model.name} from {source}:")
    print(f"  {'method':<10} {'PSNR (Y)':>9} {'SSIM (Y)':>9} {'PIQE of LR':>11} {'LR vs bicubic LR (RGB)':>23}")
    for label, (rec, small), fidelity in (
        (model.name.upper(), (sr, lr), f"{lr_vs_bicubic:.2f} dB"),
        ("bicubic", (sr_bic, lr_bic), "(the reference)"),
    ):
        p, s, q = scores(rec, small)
        print(f"  {label:<10} {p:8.2f}  {s:9.4f} {q:11.2f} {fidelity:>23}")
    print(f"  ({model.name} down+up took {elapsed:.2f} s on {next(iter(model.parameters())).device})")
    print(f"wrote {', '.join(str(p) for p, _, _ in files.values())}")
    return 0
