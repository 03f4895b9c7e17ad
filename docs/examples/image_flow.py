"""An image flow from flowkit layers inside normflows.NormalizingFlow (run by the test suite).

Latent (B, 12, 8, 8) -> data (B, 3, 16, 16). normflows samples with ``forward`` and
scores data with ``inverse``, so the flows are listed from the latent side.
"""

import normflows as nf
import torch

import flowkit as fk


def build() -> nf.NormalizingFlow:
    flows = []
    for _ in range(4):
        flows += [fk.ActNorm(12), fk.Invertible1x1Conv(12), fk.AffineCoupling(12, clamp=2.0)]
    flows += [fk.Unsqueeze(2)]  # (B, 12, 8, 8) -> (B, 3, 16, 16)
    base = nf.distributions.DiagGaussian((12, 8, 8), trainable=False)
    return nf.NormalizingFlow(base, flows)


def toy_images(n: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth random colour blobs in [0, 1], (n, 3, 16, 16)."""
    coarse = torch.rand(n, 3, 4, 4, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bilinear", align_corners=False)


if __name__ == "__main__":
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    held_out = toy_images(64, gen)
    before = -model.log_prob(held_out).mean().item() / held_out[0].numel()
    for _ in range(60):
        loss = model.forward_kld(toy_images(32, gen))  # maximum likelihood
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = -model.log_prob(held_out).mean().item() / held_out[0].numel()
    samples, log_q = model.sample(4)
    print(f"held-out NLL per dimension: {before:.3f} -> {after:.3f} nats")
    print(f"samples {tuple(samples.shape)}, log q {tuple(log_q.shape)}")
    assert after < before
