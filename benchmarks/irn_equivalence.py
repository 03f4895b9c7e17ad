"""flowkit's IRN against the official code: the same weights give the same network, loss
and gradient.

Builds the official ``InvRescaleNet`` (from a clone outside the repository, ``--irn-code``),
perturbs every subnet's last convolution away from its zero initialisation, loads the
state dict into :class:`flowkit.models.IRN` (:meth:`~flowkit.models.IRN.load_official`) and
compares, in float64 on random images: the forward output, the inverse, and the three
training-loss terms and their parameter gradients, with the official loss modules
(``ReconstructionLoss`` l2 / l1, ``Quantization``) and the same Gaussian z.

Usage::

    python -m benchmarks.irn_equivalence --irn-code PATH/Invertible-Image-Rescaling/codes
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.common import description, markdown_table, write_outputs
from benchmarks.irn_official import official_modules, official_network
from flowkit.models import IRN, IRNConfig


def compare(code: str, scale: int, size: int = 32, seed: int = 0) -> dict[str, float]:
    """Largest absolute differences (and relative ones for the losses and gradients)."""
    torch.manual_seed(seed)
    official = official_network(code, scale).double()
    with torch.no_grad():
        for name, p in official.named_parameters():
            if "conv5" in name:
                p.normal_(0, 0.05)
    ours = IRN(IRNConfig.for_scale(scale)).double().load_official(official.state_dict())
    m = official_modules(code)
    l2, l1 = m["loss"].ReconstructionLoss(losstype="l2"), m["loss"].ReconstructionLoss(losstype="l1")
    hr = torch.rand(2, 3, size, size, dtype=torch.float64)
    lr_bicubic = torch.rand(2, 3, size // scale, size // scale, dtype=torch.float64)

    out_official = official(hr)
    out_ours, _ = ours.net(hr)
    inv_official = official(out_official, rev=True)
    inv_ours, _ = ours.net.inverse(out_ours)

    rng = torch.get_rng_state()
    losses = ours.training_losses(hr, lr_bicubic)
    torch.set_rng_state(rng)  # the official backward pass gets the same z
    lr, z = out_official[:, :3], out_official[:, 3:]
    c = ours.config
    z_draw = c.gaussian_scale * torch.randn(z.shape, dtype=torch.float64)
    rec = official(torch.cat((m["Quantization"].Quantization()(lr), z_draw), 1), rev=True)[:, :3]
    official_losses = {
        "fit": c.lambda_fit * l2(lr, lr_bicubic),
        "ce": c.lambda_ce * torch.sum(z**2) / z.shape[0],
        "rec": c.lambda_rec * l1(hr, rec),
    }
    official_losses["total"] = sum(official_losses.values())

    grads_ours = torch.autograd.grad(losses["total"], list(ours.parameters()))
    by_our_name = {IRN.official_key(k): p for k, p in official.named_parameters()}  # Haar kernels map to None
    params_official = [by_our_name[k] for k, _ in ours.named_parameters()]
    grads_official = torch.autograd.grad(official_losses["total"], params_official)
    g_ours, g_official = torch.cat([g.flatten() for g in grads_ours]), torch.cat([g.flatten() for g in grads_official])
    result = {
        "forward_max_abs": (out_official - out_ours).abs().max().item(),
        "inverse_max_abs": (inv_official - inv_ours).abs().max().item(),
        "roundtrip_max_abs": (inv_ours - hr).abs().max().item(),
    }
    for k in ("fit", "ce", "rec", "total"):
        result[f"{k}_rel"] = abs(losses[k].item() - official_losses[k].item()) / abs(official_losses[k].item())
    result["grad_rel"] = ((g_ours - g_official).norm() / g_official.norm()).item()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=description(__doc__))
    parser.add_argument("--irn-code", required=True, help="the official clone's 'codes' folder")
    parser.add_argument("--out", default=None)
    parser.add_argument("--name", default="irn_equivalence")
    args = parser.parse_args(argv)
    results = {f"x{s}": compare(args.irn_code, s) for s in (2, 4)}
    keys = list(results["x2"])
    table = markdown_table(["scale", *keys], [[s, *(f"{r[k]:.1e}" for k in keys)] for s, r in results.items()])
    json_path, md_path = write_outputs(args.name, {"results": results, "dtype": "float64"}, table, args.out)
    print(f"{table}\n\nwrote {json_path} and {md_path}")
    return results


if __name__ == "__main__":
    main()
