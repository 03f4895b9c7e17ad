"""A 2-D density with flowkit couplings on vectors (run by the test suite).

The same layers work on (B, C) tensors when the subnet is an MLP.
"""

from functools import partial

import normflows as nf
import torch

import flowkit as fk
from flowkit.examples.two_moons import gaussian_baseline, two_moons

flows = []
for _ in range(6):
    flows += [
        fk.ActNorm(2),
        fk.AffineCoupling(2, subnet=partial(fk.MLP, hidden=64), clamp=3.0),
        fk.Permute(2, mode="reverse"),
    ]
model = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)

if __name__ == "__main__":
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(400):
        loss = model.forward_kld(two_moons(256, generator=gen))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = two_moons(2048, generator=gen)
    ll = model.log_prob(test).mean().item()
    print(f"test log-likelihood {ll:.3f} (best single Gaussian {gaussian_baseline(test):.3f})")
    assert ll > gaussian_baseline(test)
