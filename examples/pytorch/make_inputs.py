#!/usr/bin/env python3
"""Write inputs for train_tasklet.py, so it can be tried without gridswarm.

  python3 make_inputs.py --out in --samples 2048 --seed 1

writes in/weights.safetensors (a freshly initialised 784-128-10 MLP, as
gridswarm's built-in trainer initialises one: He-uniform for the ReLU layer,
Glorot-uniform for the last, zero biases) and in/shard.safetensors (n
synthetic 28x28 "images" and their labels). Each class has its own random
pattern of lit pixels and each image is its class's pattern with 10% of the
pixels flipped, so the loss falls quickly when training works.

It needs only the Python standard library (not torch, not numpy).
"""

import argparse
import math
import os
import random
import struct
import sys

from train_tasklet import DEFAULT_MODEL, layers, write

INPUTS, CLASSES = DEFAULT_MODEL["inputs"], DEFAULT_MODEL["classes"]
LAYERS = layers(DEFAULT_MODEL)

MAX_SAMPLES = 1_000_000


def f32_bytes(values):
    return struct.pack(f"<{len(values)}f", *values)


def make_weights(rng):
    tensors = {}
    for name, shape in LAYERS:
        n = math.prod(shape)
        if name.endswith(".bias"):
            vals = [0.0] * n
        else:
            out_dim, in_dim = shape
            last = name == LAYERS[-2][0]
            bound = math.sqrt(6 / (in_dim + out_dim)) if last else math.sqrt(6 / in_dim)
            vals = [rng.uniform(-bound, bound) for _ in range(n)]
        tensors[name] = ("F32", list(shape), f32_bytes(vals))
    return tensors


def make_shard(rng, n):
    protos = [[255 if rng.random() < 0.2 else 0 for _ in range(INPUTS)] for _ in range(CLASSES)]
    labels = bytes(rng.randrange(CLASSES) for _ in range(n))
    images = bytearray()
    for y in labels:
        images += bytes(255 - p if rng.random() < 0.1 else p for p in protos[y])
    return {
        "images": ("U8", [n, INPUTS], bytes(images)),
        "labels": ("U8", [n], labels),
    }


def main(argv):
    p = argparse.ArgumentParser(description="Write weights.safetensors and shard.safetensors for train_tasklet.py.")
    p.add_argument("--out", default="in", help="directory to write to (default: in)")
    p.add_argument("--samples", type=int, default=2048, help="samples in the shard (default: 2048)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    a = p.parse_args(argv)
    if not 1 <= a.samples <= MAX_SAMPLES:
        p.error(f"--samples {a.samples}: want 1 to {MAX_SAMPLES}")
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(a.seed)
    write(os.path.join(a.out, "weights.safetensors"), make_weights(rng), {"format": "pt"})
    write(os.path.join(a.out, "shard.safetensors"), make_shard(rng, a.samples), {"format": "pt"})
    print(f"wrote {a.out}/weights.safetensors and {a.out}/shard.safetensors ({a.samples} samples)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
