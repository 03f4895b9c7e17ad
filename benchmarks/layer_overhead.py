"""Cost of flowkit's coupling layers against hand-written torch and normflows, same subnets.

For ``AffineCoupling``, ``FlowCell`` and ``InvBlockExp`` times ``forward`` + ``inverse`` on a
``(B, C, H, W)`` batch against (a) a bare-torch function computing the same equations with
the very same subnet modules, and (b) normflows' ``AffineCouplingBlock`` (split, affine
coupling, merge) with a subnet of the same size — the nearest normflows layer; normflows
has no two-sided coupling like FlowCell / InvBlockExp, so (b) is given for the affine
coupling only.

Usage::

    python -m benchmarks.layer_overhead [--batch 8 --size 64 --repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import normflows as nf
import torch

import flowkit as fk
from benchmarks.common import description, markdown_table, write_outputs
from flowkit.testing import perturb_parameters


def _bare_affine(layer: fk.AffineCoupling):
    net, c1, n, clamp = layer.net, layer.split, layer.channels - layer.split, layer.clamp

    def fwd(x):
        x1, x2 = x[:, :c1], x[:, c1:]
        h = net(x1)
        s = clamp * torch.tanh(h[:, :n] / clamp)
        return torch.cat((x1, x2 * torch.exp(s) + h[:, n:]), 1), s.sum((1, 2, 3))

    def inv(y):
        y1, y2 = y[:, :c1], y[:, c1:]
        h = net(y1)
        s = clamp * torch.tanh(h[:, :n] / clamp)
        return torch.cat((y1, (y2 - h[:, n:]) * torch.exp(-s)), 1), -s.sum((1, 2, 3))

    return fwd, inv


def _bare_two_sided(layer: fk.FlowCell):
    a, b, p, c1, clamp = layer.alpha, layer.beta, layer.phi, layer.split, layer.clamp
    if isinstance(layer, fk.InvBlockExp):

        def scale(y1):
            return clamp * (2 * torch.sigmoid(b(y1)) - 1)
    elif clamp is None:
        scale = b
    else:

        def scale(y1):
            return clamp * torch.tanh(b(y1) / clamp)

    def fwd(x):
        x1, x2 = x[:, :c1], x[:, c1:]
        y1 = x1 + a(x2)
        s = scale(y1)
        return torch.cat((y1, x2 * torch.exp(s) + p(y1)), 1), s.sum((1, 2, 3))

    def inv(y):
        y1, y2 = y[:, :c1], y[:, c1:]
        s = scale(y1)
        x2 = (y2 - p(y1)) * torch.exp(-s)
        return torch.cat((y1 - a(x2), x2), 1), -s.sum((1, 2, 3))

    return fwd, inv


def _time(fns: dict, x, repeat) -> dict:
    """Median ms of each function; the functions take turns in every repetition, so a
    change in the machine's load during the run affects them alike."""
    times: dict = {name: [] for name in fns}
    with torch.inference_mode():
        for fn in fns.values():
            fn(x)
        for _ in range(repeat):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    cases = {
        "AffineCoupling(12)": (fk.AffineCoupling(12), 12),
        "FlowCell(3)": (fk.FlowCell(3, clamp=2.0), 3),
        "InvBlockExp(12)": (fk.InvBlockExp(12), 12),
    }
    rows, results = [], {}
    for label, (layer, c) in cases.items():
        perturb_parameters(layer, 0.3).eval()
        x = torch.rand(args.batch, c, args.size, args.size)
        bare_f, bare_i = _bare_affine(layer) if isinstance(layer, fk.AffineCoupling) else _bare_two_sided(layer)
        fns = {"flowkit": lambda v, f=layer: f.inverse(f(v)[0]), "bare": lambda v, f=bare_f, i=bare_i: i(f(v)[0])}
        if isinstance(layer, fk.AffineCoupling):
            block = nf.flows.AffineCouplingBlock(
                fk.DenseBlock(c // 2, c), scale=True, scale_map="exp", split_mode="channel"
            ).eval()
            fns["normflows"] = lambda v, b=block: b.inverse(b(v)[0])
        with torch.inference_mode():  # the comparison is only meaningful if both compute the same thing
            torch.testing.assert_close(layer(x)[0], bare_f(x)[0])
        ms = _time(fns, x, args.repeat)
        ours, bare = ms["flowkit"], ms["bare"]
        entry = {"flowkit_ms": ours, "bare_ms": bare, "ratio_bare": ours / bare}
        nf_cell = "n/a (no two-sided coupling in normflows)"
        if "normflows" in ms:
            nf_ms = ms["normflows"]
            entry |= {"normflows_ms": nf_ms, "ratio_normflows": ours / nf_ms}
            nf_cell = f"{nf_ms:.1f} ({ours / nf_ms:.2f}x)"
        results[label] = entry
        rows.append([label, f"{ours:.1f}", f"{bare:.1f} ({ours / bare:.2f}x)", nf_cell])
        print(" | ".join(rows[-1]))
    table = markdown_table(
        ["layer (forward + inverse)", "flowkit ms", "bare torch ms (flowkit/bare)", "normflows ms (flowkit/normflows)"],
        rows,
    )
    json_path, md_path = write_outputs(
        "layer_overhead",
        {"results": results, "batch": args.batch, "size": args.size, "repeat": args.repeat},
        table,
        args.out,
    )
    print(f"\n{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
