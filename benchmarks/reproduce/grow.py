"""Write an FGRN weights file with more residual blocks in Gd and/or Gu, computing what its source computes.

Usage::

    python -m benchmarks.reproduce.grow WEIGHTS --out runs/NAME/NAME.safetensors [--gd-blocks N] [--gu-blocks N]

``WEIGHTS`` is a weights file, a training checkpoint (its EMA weights) or a shipped model as ``fgrn-x4``. The
added blocks start as identities (:func:`flowkit.models.fgrn.growth.grow`), so a run that starts from
the result (``init_weights``, with the same block counts in its ``model_config``) starts where the
source is. The file's metadata (``flowkit.grown``) names the source as given, the digest of its tensors
as loaded (float32) and the block counts before and after. The output is never overwritten.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import description
from benchmarks.reproduce.common import GROWN_METADATA
from flowkit.models import ModelFileError, load_model, save_model
from flowkit.models.fgrn.growth import grow
from flowkit.models.io import tensor_digest
from flowkit.models.pretrained import resolve_weights


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("weights", help="an FGRN weights file or checkpoint, or a shipped model as NAME-xS")
    parser.add_argument("--out", type=Path, required=True, help="the weights file to write (must not exist)")
    parser.add_argument("--gd-blocks", type=int, help="Gd's new block count (default: unchanged)")
    parser.add_argument("--gu-blocks", type=int, help="Gu's new block count (default: unchanged)")
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists; not overwritten")
    try:
        source = resolve_weights(args.weights, 0)  # a file, or a name that carries its scale
        model = load_model(source, expect_model="fgrn")
        grown = grow(model, gd_blocks=args.gd_blocks, gu_blocks=args.gu_blocks)
    except (ModelFileError, ValueError) as exc:
        parser.error(str(exc))
    record = {
        "from": args.weights,
        "sha256": tensor_digest(model.state_dict()),
        **{k: [getattr(model.config, k), getattr(grown.config, k)] for k in ("gd_blocks", "gu_blocks")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    digest = save_model(grown, args.out, extra={GROWN_METADATA: json.dumps(record)})
    print(
        f"{args.out}: {source.name} grown to gd_blocks {grown.config.gd_blocks}, gu_blocks "
        f"{grown.config.gu_blocks} ({grown.num_parameters():,} parameters), sha256 {digest[:12]}…"
    )


if __name__ == "__main__":
    main()
