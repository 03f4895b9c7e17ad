"""The ``flowkit`` command."""

from __future__ import annotations

import argparse
import os
import sys

import flowkit


def _cmd_demo(args: argparse.Namespace) -> int:
    from flowkit.examples import two_moons

    two_moons.main(steps=args.steps, out=args.out, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowkit",
        description="Invertible layers for normalizing flows, and FGRN/IRN image rescaling.",
    )
    parser.add_argument("--version", action="version", version=f"flowkit {flowkit.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="fit a 2-D density (two moons) with flowkit layers and plot it")
    demo.add_argument("--steps", type=int, default=1000, help="training steps (default: 1000)")
    demo.add_argument("--out", default="two_moons.png", help="PNG to write (default: two_moons.png)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; user errors print one line on stderr and return a non-zero code.

    Set ``FLOWKIT_DEBUG=1`` to see the full traceback instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("flowkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command line shows one line, never a traceback
        if os.environ.get("FLOWKIT_DEBUG"):
            raise
        print(f"flowkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
