"""Every public layer with a valid input shape, shared by the layer tests."""

from functools import partial

import normflows as nf

import flowkit as fk

# name -> (constructor, input shape (B, C, H, W) or (B, C))
LAYERS = {
    "Squeeze": (lambda: fk.Squeeze(2), (2, 3, 4, 6)),
    "Squeeze3": (lambda: fk.Squeeze(3), (1, 2, 3, 6)),
    "Unsqueeze": (lambda: fk.Unsqueeze(2), (2, 12, 2, 3)),
    "HaarDownsampling": (lambda: fk.HaarDownsampling(3), (2, 3, 4, 6)),
    "AdditiveCoupling": (lambda: fk.AdditiveCoupling(4), (2, 4, 3, 5)),
    "AffineCoupling": (lambda: fk.AffineCoupling(4), (2, 4, 3, 5)),
    "AffineCoupling-noclamp": (lambda: fk.AffineCoupling(5, split=2, clamp=None), (2, 5, 3, 3)),
    "AffineCoupling-mlp": (lambda: fk.AffineCoupling(3, subnet=partial(fk.MLP, hidden=16)), (4, 3)),
    "FlowCell": (lambda: fk.FlowCell(3), (2, 3, 4, 5)),
    "FlowCell-clamp": (lambda: fk.FlowCell(3, clamp=1.5), (2, 3, 4, 5)),
    "InvBlockExp": (lambda: fk.InvBlockExp(12), (2, 12, 3, 3)),
    "InvBlockExp-2ch": (lambda: fk.InvBlockExp(2, subnet=partial(fk.ConvNet, hidden=8)), (2, 2, 3, 3)),
    "SplineCoupling": (lambda: fk.SplineCoupling(4, bins=4, subnet=partial(fk.ConvNet, hidden=8)), (2, 4, 3, 3)),
    "SplineCoupling-mlp": (lambda: fk.SplineCoupling(3, split=1, subnet=partial(fk.MLP, hidden=16)), (4, 3)),
    "CheckerboardCoupling": (lambda: fk.CheckerboardCoupling(3, subnet=partial(fk.ConvNet, hidden=8)), (2, 3, 4, 5)),
    "CheckerboardCoupling-odd": (lambda: fk.CheckerboardCoupling(1, parity=1), (2, 1, 3, 3)),
    "Invertible1x1Conv": (lambda: fk.Invertible1x1Conv(4), (2, 4, 3, 5)),
    "Invertible1x1Conv-vec": (lambda: fk.Invertible1x1Conv(3), (5, 3)),
    "ActNorm": (lambda: fk.ActNorm(4), (3, 4, 3, 5)),
    "Permute": (lambda: fk.Permute(4), (2, 4, 3, 5)),
    "Permute-shift": (lambda: fk.Permute(3, mode="shift"), (2, 3, 2, 2)),
    "Sequential": (
        lambda: fk.InvertibleSequential(
            fk.Squeeze(2), fk.ActNorm(12), fk.Invertible1x1Conv(12), fk.AffineCoupling(12), fk.InvBlockExp(12)
        ),
        (2, 3, 4, 4),
    ),
    "Sequential-with-normflows": (
        lambda: fk.InvertibleSequential(fk.FlowCell(4), nf.flows.Permute(4, mode="swap"), fk.AffineCoupling(4)),
        (2, 4, 3, 3),
    ),
}
