"""Evaluate one finished run of the study on some of the evaluation sets, into its cache.

The table scripts evaluate whatever is not cached, one set after another in one
process; to use every core, evaluate the sets in parallel processes first, e.g. ::

    OMP_NUM_THREADS=1 python -m benchmarks.reproduce.eval_run irn-x4 irn 4 --draws 1 --sets Set5 Set14 BSD100 &
    OMP_NUM_THREADS=1 python -m benchmarks.reproduce.eval_run irn-x4 irn 4 --draws 1 --sets Urban100

Each set is seeded the same way in either case, so the numbers do not depend on the split.
"""

from __future__ import annotations

import argparse

from benchmarks.common import description
from benchmarks.reproduce.common import SETS, evaluate_run, final_weights, finished


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("name", help="run folder under benchmarks/reproduce/runs")
    parser.add_argument("model", choices=("fgrn", "irn"))
    parser.add_argument("scale", type=int, choices=(2, 4))
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--draws", type=int, default=5, help="Gaussian z draws averaged per image (IRN)")
    parser.add_argument("--z0", action="store_true", help="test IRN with z = 0 (as table4's extra row)")
    parser.add_argument(
        "--unfinished",
        action="store_true",
        help="evaluate the newest checkpoint of a run that stopped early (quote it as such)",
    )
    args = parser.parse_args(argv)
    if not (args.unfinished or finished(args.name)):
        parser.exit(1, f"error: run {args.name} is not finished (--unfinished evaluates its newest checkpoint)\n")
    report = evaluate_run(
        args.name,
        final_weights(args.name),
        args.model,
        args.scale,
        z_mode="zero" if args.z0 else None,
        sets=tuple(args.sets),
        draws=args.draws,
    )
    for s, r in report.items():
        print(f"{args.name} {s}: {r['psnr']:.2f} dB / {r['ssim']:.4f}")


if __name__ == "__main__":
    main()
