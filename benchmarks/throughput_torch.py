"""PyTorch eager reference row for ``throughput.py`` (run in a side interpreter).

``throughput.py --torch-python PATH`` runs this file with that interpreter
as a subprocess; kgan never imports torch. It trains the same networks as
the TensorFlow rows (the TF DCGAN tutorial's, or kgan's DCGAN with its
defaults) with the same Algorithm 1 step (k=1, fresh noise for G's step,
Adam 1e-4, BCE on logits) and prints one JSON line ``{"images_per_s": ...}``.

    /work/torch-venv/bin/python benchmarks/throughput_torch.py --nets tutorial --steps 5

Only shapes and work per step are matched, not the "same" padding's
alignment for odd kernels (TensorFlow pads 5x5 stride-2 inputs 1 before and 2
after; PyTorch pads 2 and 2 and drops the last row), which changes no
FLOP count. Images are random in [-1, 1]; the TF rows read MNIST from memory,
which costs them nothing measurable (benchmarks/README.md, "no prefetch").
"""

import argparse
import json
import time

import torch
from torch import nn

LATENT = 100


class _Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


def tutorial_networks():
    """The TF DCGAN tutorial's networks; BN eps/momentum as Keras's."""
    bn = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)  # noqa: E731
    g = nn.Sequential(
        nn.Linear(LATENT, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256, eps=1e-3, momentum=0.01),
        nn.LeakyReLU(0.3), _Reshape(256, 7, 7),
        nn.ConvTranspose2d(256, 128, 5, 1, padding=2, bias=False), bn(128), nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(128, 64, 5, 2, padding=2, output_padding=1, bias=False), bn(64), nn.LeakyReLU(0.3),
        nn.ConvTranspose2d(64, 1, 5, 2, padding=2, output_padding=1, bias=False), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))
    return g, d


def kgan_networks():
    """kgan's DCGAN for 28x28x1 with its defaults (base_filters 64, 4x4 kernels)."""
    bn = lambda c: nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)  # noqa: E731
    g = nn.Sequential(
        nn.Linear(LATENT, 7 * 7 * 128, bias=False), nn.BatchNorm1d(7 * 7 * 128, eps=1e-3, momentum=0.01),
        nn.ReLU(), _Reshape(128, 7, 7),
        nn.ConvTranspose2d(128, 64, 4, 2, padding=1, bias=False), bn(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, padding=1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, padding=1), bn(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(7 * 7 * 128, 1))
    return g, d


def images_per_s(nets, batch, steps, seed=0):
    """Images/s of Algorithm 1 (k=1) in a plain PyTorch eager loop."""
    torch.manual_seed(seed)
    g, d = (tutorial_networks if nets == "tutorial" else kgan_networks)()
    g_opt = torch.optim.Adam(g.parameters(), 1e-4)
    d_opt = torch.optim.Adam(d.parameters(), 1e-4)
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, 28, 28) * 2 - 1
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step():
        with torch.no_grad():  # D's step: G's forward is not differentiated
            fake = g(torch.randn(batch, LATENT))
        d_opt.zero_grad(set_to_none=True)
        d_loss = bce(d(real), ones) + bce(d(fake), zeros)
        d_loss.backward()
        d_opt.step()
        g_opt.zero_grad(set_to_none=True)
        g_loss = bce(d(g(torch.randn(batch, LATENT))), ones)  # fresh noise
        g_loss.backward()  # also fills D's grads, cleared before D's next step
        g_opt.step()
        return d_loss

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss.detach())
    return steps * batch / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nets", choices=("tutorial", "kgan"), default="tutorial")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    ips = images_per_s(a.nets, a.batch, a.steps, a.seed)
    print(json.dumps({"images_per_s": ips, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
