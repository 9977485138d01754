#!/usr/bin/env python3
"""The PyTorch side of the CNN benchmark (docs/benchmarks.md, issue 11).

Trains the network of trainer.BenchCNN and examples/jobs/mnist-cnn.yaml --
conv 5x5x16 (padding 2), ReLU, max-pool 2, conv 5x5x32 (padding 2), ReLU,
max-pool 2, dense 1568 -> 128 -> ReLU -> 10 -- with Adam (lr 1e-3) on minibatches of 64
synthetic 28x28 images, the same step as BenchmarkTrainCNN, and prints
samples per CPU second and per wall second as JSON.

    /usr/bin/python3 bench/torchcnn/torchcnn.py --threads 1 --steps 200 [--hidden 0]
"""
import argparse
import json
import time

import torch
import torch.nn as nn


def net(hidden):
    head = [nn.Linear(32 * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, 10)] if hidden else [nn.Linear(32 * 7 * 7, 10)]
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), *head,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128, help="dense layer width after the convolutions; 0 for none")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = net(a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    n = 4096
    x = torch.rand(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))

    def step(i):
        idx = torch.randint(0, n, (a.batch,))
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(10):  # warm-up: oneDNN picks and caches its kernels
        step(i)
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(a.steps):
        step(i)
    c1, w1 = time.process_time(), time.perf_counter()
    samples = a.steps * a.batch
    print(json.dumps({
        "torch": torch.__version__, "threads": a.threads, "batch": a.batch, "steps": a.steps, "hidden": a.hidden,
        "samples_per_cpu_s": round(samples / (c1 - c0), 1),
        "samples_per_s": round(samples / (w1 - w0), 1),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }))


if __name__ == "__main__":
    main()
