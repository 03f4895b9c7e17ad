"""Run benchmark scripts one after another: ``python -m benchmarks [NAME ...] [-- ARGS]``.

From the repository root (the benchmarks are part of the repository, not of the installed
package). Each ``NAME`` is run as ``python -m benchmarks.NAME ARGS``; with no name, the speed
benchmarks run. Each writes its JSON and markdown table under ``benchmarks/results/`` unless its
own ``--out`` says otherwise.
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import REPO, RESULTS

#: The scripts this runner knows, and those it runs when no name is given.
BENCHMARKS = (
    "image_speed",
    "layer_overhead",
    "inference",
    "training_speed",
    "tiling",
    "bicubic_baseline",
    "folder_speed",
)
DEFAULT = ("image_speed", "layer_overhead", "inference", "training_speed")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__.split("\n\n")[0] + f"\n\nbenchmarks: {', '.join(BENCHMARKS)} (default: {', '.join(DEFAULT)})")
        return 0
    cut = argv.index("--") if "--" in argv else len(argv)
    names, extra = argv[:cut] or list(DEFAULT), argv[cut + 1 :]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(
            f"benchmarks: error: unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr
        )
        return 2
    failed = []
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra], cwd=REPO).returncode:
            failed.append(name)
    if failed:
        print(f"benchmarks: error: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"results in {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
