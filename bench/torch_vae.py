"""PyTorch (CUDA, eager) training throughput of the two reference models of DESIGN.md, to set
beside `bench/train_bench.ts` on the same GPU (bench/device.sh runs both).

  mlp:  784 -> 512 ReLU -> 512 ReLU -> mu, logvar (20 each); decoder 20 -> 512 ReLU -> 512 ReLU
        -> 784 logits.
  conv: Conv2d [32, 64, 64, 64], k3, strides [1, 2, 2, 1], BatchNorm + LeakyReLU(0.2) each;
        flatten 7x7x64 -> Dense to mu and logvar (z = 16); decoder Dense 16 -> 3136, reshape
        64x7x7, ConvTranspose2d [64, 64, 32, 1], k3, strides [1, 2, 2, 1], BatchNorm +
        LeakyReLU after each but the last (logits).
  Loss per image: BCE with logits summed over pixels + closed-form KL; batch mean. Adam 1e-3.

Like the WebGPU trainer, the dataset lives on the GPU as uint8 (random pixels here: speed does
not depend on them) and each step gathers a random batch on the GPU and scales it to [0, 1];
the noise of the reparameterization is drawn on the GPU. f32 throughout: TF32 is off unless
--tf32 (WebGPU has no TF32). Timing: warm-up steps, then steps back to back for about
--seconds, one synchronize at the end; images/s = steps * batch / seconds.

  python3 bench/torch_vae.py [--models mlp,conv] [--batches 128,512] [--seconds 3]
                             [--out results.json] [--tf32]
"""

import argparse
import json
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


class MlpVae(nn.Module):
    def __init__(self, z=20, h=512):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
        self.head = nn.Linear(h, 2 * z)
        self.dec = nn.Sequential(
            nn.Linear(z, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 784)
        )

    def forward(self, x):
        mu, logvar = self.head(self.enc(x.flatten(1))).chunk(2, dim=1)
        return self.dec(reparameterize(mu, logvar)).view_as(x), mu, logvar


def block(conv, c):
    return nn.Sequential(conv, nn.BatchNorm2d(c), nn.LeakyReLU(0.2))


class ConvVae(nn.Module):
    def __init__(self, z=16):
        super().__init__()
        self.enc = nn.Sequential(
            block(nn.Conv2d(1, 32, 3, 1, 1), 32),
            block(nn.Conv2d(32, 64, 3, 2, 1), 64),  # 28 -> 14
            block(nn.Conv2d(64, 64, 3, 2, 1), 64),  # 14 -> 7
            block(nn.Conv2d(64, 64, 3, 1, 1), 64),
        )
        self.head = nn.Linear(7 * 7 * 64, 2 * z)
        self.fc = nn.Linear(z, 7 * 7 * 64)
        self.dec = nn.Sequential(
            block(nn.ConvTranspose2d(64, 64, 3, 1, 1), 64),
            block(nn.ConvTranspose2d(64, 64, 3, 2, 1, output_padding=1), 64),  # 7 -> 14
            block(nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1), 32),  # 14 -> 28
            nn.ConvTranspose2d(32, 1, 3, 1, 1),
        )

    def forward(self, x):
        mu, logvar = self.head(self.enc(x).flatten(1)).chunk(2, dim=1)
        h = self.fc(reparameterize(mu, logvar)).view(-1, 64, 7, 7)
        return self.dec(h), mu, logvar


def reparameterize(mu, logvar):
    logvar = logvar.clamp(-30.0, 20.0)
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def loss_fn(logits, x, mu, logvar):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    logvar = logvar.clamp(-30.0, 20.0)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (recon + kl) / x.shape[0]


def measure(model_name, batch, seconds, n_images=60000):
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = (MlpVae() if model_name == "mlp" else ConvVae()).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.randint(0, 256, (n_images, 1, 28, 28), dtype=torch.uint8, device=dev)

    def step():
        idx = torch.randint(0, n_images, (batch,), device=dev)
        x = data[idx].float().div_(255.0)
        logits, mu, logvar = model(x)
        loss = loss_fn(logits, x, mu, logvar)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    one = (time.perf_counter() - t0) / 10
    steps = max(10, min(5000, round(seconds / max(one, 1e-6))))
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    return {
        "model": model_name,
        "batch": batch,
        "steps": steps,
        "seconds": secs,
        "imagesPerSecond": steps * batch / secs,
        "msPerStep": 1000 * secs / steps,
        "lastLoss": float(loss),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="mlp,conv")
    p.add_argument("--batches", default="128,512")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--out", default="")
    p.add_argument("--tf32", action="store_true")
    a = p.parse_args()
    if not torch.cuda.is_available():
        print("error: PyTorch sees no CUDA device", file=sys.stderr)
        sys.exit(1)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = True
    rows = []
    for m in a.models.split(","):
        for b in [int(v) for v in a.batches.split(",")]:
            r = measure(m, b, a.seconds)
            rows.append(r)
            print(f"torch {m} batch {b}: {r['imagesPerSecond']:.1f} images/s "
                  f"({r['msPerStep']:.2f} ms/step, {r['steps']} steps)", flush=True)
    out = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "tf32": a.tf32,
        "rows": rows,
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
