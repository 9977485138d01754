#!/usr/bin/env python3
"""A PyTorch tasklet for gridswarm's process executor.

It trains an MLP 784-128-10 (ReLU between the layers) for H inner steps of
minibatch SGD on one data shard, starting from the round's global weights,
and writes the local weights back. It is the PyTorch twin of gridswarm's
built-in trainer: same tensor names, same loss (mean softmax cross-entropy),
same SGD with heavy-ball momentum, pixels scaled to [0, 1] by 1/255.

Inputs, in $GRIDSWARM_IN:
  weights.safetensors  F32 layer0.weight [128,784], layer0.bias [128],
                           layer1.weight [10,128],  layer1.bias [10]
  shard.safetensors    U8 images [n,784], U8 labels [n] (0-9)

Outputs, in $GRIDSWARM_OUT:
  weights.safetensors  the weights after H steps, same names and shapes
  metrics.json         loss (mean minibatch loss), final_loss, steps,
                       samples, device, device_name, seconds, seed, torch

Arguments: --steps H --batch-size B --lr LR [--momentum M]
The seed comes from $GRIDSWARM_SEED. CUDA is used when available. Runs
with the same inputs and seed on the same kind of device and software give
the same bytes (checked on an H100 and its CPU with torch 2.11); GPU and CPU
results differ in the last bits, so replicas on different hardware are
compared with a tolerance, as gridswarm does for GPU work.

Exit status: 0 done, 2 bad arguments or inputs, 3 training diverged.

It reads and writes safetensors with the `safetensors` package when it is
installed, and otherwise with the small pure-Python codec below, so this
file is the whole tasklet: ship it as one input.
"""

import argparse
import json
import math
import os
import struct
import sys
import time

INPUTS, HIDDEN, CLASSES = 784, 128, 10
LAYERS = (
    ("layer0.weight", (HIDDEN, INPUTS)),
    ("layer0.bias", (HIDDEN,)),
    ("layer1.weight", (CLASSES, HIDDEN)),
    ("layer1.bias", (CLASSES,)),
)
MAX_STEPS = 1_000_000
MAX_BATCH = 1 << 16
MAX_INPUT_BYTES = 4 << 30  # per input file


class InputError(Exception):
    """Bad arguments or inputs: exit status 2."""


# ---------------------------------------------------------------------------
# safetensors in pure Python. A file is an 8-byte little-endian header length
# N, N bytes of JSON header and the tensors' bytes back to back:
#
#   {"__metadata__": {...}, "name": {"dtype": "F32", "shape": [2, 3],
#                                     "data_offsets": [begin, end]}, ...}
#
# The writer lays tensors out in name order with a compact header padded with
# spaces to a multiple of 8 bytes, as gridswarm's Go encoder does, so the same
# tensors give the same bytes. make_inputs.py uses it too, without torch.
# ---------------------------------------------------------------------------

# dtype -> bytes per element.
DTYPE_SIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}

MAX_HEADER = 100 << 20  # the reference implementation's limit
METADATA_KEY = "__metadata__"


class FormatError(ValueError):
    """The bytes are not a valid safetensors file."""


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def decode(buf):
    """Parse a whole file held in buf (bytes-like).

    Returns (tensors, metadata): tensors maps a name to (dtype, shape,
    memoryview of its bytes); metadata is a dict of strings.
    """
    mv = memoryview(buf)
    if len(mv) < 8:
        raise FormatError(f"file is {len(mv)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", mv, 0)
    if n > MAX_HEADER or 8 + n > len(mv):
        raise FormatError(f"header length {n} does not fit a {len(mv)}-byte file")
    try:
        header = json.loads(bytes(mv[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object")
    data = mv[8 + n:]
    metadata = header.pop(METADATA_KEY, None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise FormatError("__metadata__ must map strings to strings")
    tensors, spans = {}, []
    for name, info in header.items():
        dtype, shape, offsets = _check_entry(name, info)
        begin, end = offsets
        if end - begin != _numel(shape) * DTYPE_SIZE[dtype] or end > len(data):
            raise FormatError(f"tensor {name!r}: offsets {offsets} do not fit shape {shape} of {dtype} "
                              f"in a {len(data)}-byte buffer")
        tensors[name] = (dtype, shape, data[begin:end])
        spans.append((begin, end, name))
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise FormatError(f"tensor {name!r} starts at {begin}, want {pos}: gap or overlap")
        pos = end
    if pos != len(data):
        raise FormatError(f"{len(data) - pos} trailing bytes after the last tensor")
    return tensors, metadata


def _check_entry(name, info):
    if not isinstance(info, dict):
        raise FormatError(f"tensor {name!r}: entry is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_SIZE:
        raise FormatError(f"tensor {name!r}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise FormatError(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and o >= 0 for o in offsets) or offsets[0] > offsets[1]):
        raise FormatError(f"tensor {name!r}: data_offsets {offsets!r} are not [begin, end]")
    return dtype, list(shape), offsets


def read(path):
    """Read the file at path; see decode."""
    with open(path, "rb") as f:
        return decode(f.read())


def encode(tensors, metadata=None):
    """Encode tensors, a dict name -> (dtype, shape, bytes-like), to bytes."""
    parts = []
    if metadata:
        meta = {k: metadata[k] for k in sorted(metadata)}
        parts.append(json.dumps(METADATA_KEY) + ":" + json.dumps(meta, separators=(",", ":"), ensure_ascii=False))
    blobs, off = [], 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        if dtype not in DTYPE_SIZE:
            raise FormatError(f"tensor {name!r}: unknown dtype {dtype!r}")
        data = bytes(data)
        if len(data) != _numel(shape) * DTYPE_SIZE[dtype]:
            raise FormatError(f"tensor {name!r}: shape {list(shape)} of {dtype} needs "
                              f"{_numel(shape) * DTYPE_SIZE[dtype]} bytes, got {len(data)}")
        entry = {"dtype": dtype, "shape": [int(d) for d in shape], "data_offsets": [off, off + len(data)]}
        parts.append(json.dumps(name, ensure_ascii=False) + ":" + json.dumps(entry, separators=(",", ":")))
        blobs.append(data)
        off += len(data)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(blobs)


def write(path, tensors, metadata=None):
    """Write tensors (see encode) to path."""
    with open(path, "wb") as f:
        f.write(encode(tensors, metadata))


# ---------------------------------------------------------------------------
# torch glue
# ---------------------------------------------------------------------------

def _torch_dtypes(torch):
    return {
        "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16,
        "I32": torch.int32, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16,
        "F32": torch.float32, "F64": torch.float64,
    }


def load_tensors(torch, path):
    """Read a safetensors file into a dict of CPU tensors."""
    size = os.path.getsize(path)
    if size > MAX_INPUT_BYTES:
        raise InputError(f"{path} is {size} bytes, over the {MAX_INPUT_BYTES}-byte limit")
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        return load_file(path)
    try:
        raw, _ = read(path)
    except FormatError as e:
        raise InputError(f"{path}: {e}") from None
    dtypes = _torch_dtypes(torch)
    out = {}
    for name, (dtype, shape, data) in raw.items():
        if dtype not in dtypes:
            raise InputError(f"{path}: tensor {name!r} has dtype {dtype}, which this tasklet cannot load")
        if len(data) == 0:
            out[name] = torch.zeros(shape, dtype=dtypes[dtype])
        else:  # safetensors is little-endian, as is every machine CUDA runs on
            out[name] = torch.frombuffer(bytearray(data), dtype=dtypes[dtype]).reshape(shape)
    return out


def _tensor_bytes(torch, t):
    flat = t.reshape(-1)
    u8 = flat if flat.dtype == torch.uint8 else flat.view(torch.uint8)
    try:
        return u8.numpy().tobytes()
    except (RuntimeError, TypeError, ImportError):  # torch built without numpy
        return bytes(u8.tolist())


def save_tensors(torch, path, tensors, metadata):
    """Write CPU copies of tensors to path, atomically."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    tmp = path + ".tmp"
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, tmp, metadata=metadata)
    else:
        names = {v: k for k, v in _torch_dtypes(torch).items()}
        write(tmp, {k: (names[v.dtype], list(v.shape), _tensor_bytes(torch, v)) for k, v in tensors.items()},
              metadata)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# the tasklet
# ---------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="Train a 784-128-10 MLP for H steps on one shard.")
    p.add_argument("--steps", type=int, required=True, help="inner steps H")
    p.add_argument("--batch-size", type=int, required=True, help="minibatch size B")
    p.add_argument("--lr", type=float, required=True, help="learning rate")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD heavy-ball momentum, 0 to 1 (default 0)")
    a = p.parse_args(argv)
    if not 1 <= a.steps <= MAX_STEPS:
        raise InputError(f"--steps {a.steps}: want 1 to {MAX_STEPS}")
    if not 1 <= a.batch_size <= MAX_BATCH:
        raise InputError(f"--batch-size {a.batch_size}: want 1 to {MAX_BATCH}")
    if not (math.isfinite(a.lr) and a.lr > 0):
        raise InputError(f"--lr {a.lr}: want a positive number")
    if not (math.isfinite(a.momentum) and 0 <= a.momentum < 1):
        raise InputError(f"--momentum {a.momentum}: want 0 <= momentum < 1")
    return a


def env_dir(name):
    d = os.environ.get(name, "")
    if not d or not os.path.isdir(d):
        raise InputError(f"${name} is {d!r}, not a directory: run under gridswarm's process executor or set it")
    return d


def env_seed():
    s = os.environ.get("GRIDSWARM_SEED", "0")
    try:
        seed = int(s, 10)
    except ValueError:
        seed = -1
    if not 0 <= seed < 1 << 64:
        raise InputError(f"$GRIDSWARM_SEED {s!r}: want an integer from 0 to 2^64-1")
    return seed


def check_inputs(torch, weights, shard):
    """Check tensor names, dtypes and shapes; return (params, images, labels)."""
    want = {name for name, _ in LAYERS}
    extra = sorted(set(weights) - want)
    if extra:
        raise InputError(f"weights.safetensors has tensors this MLP does not use: {extra}")
    params = {}
    for name, shape in LAYERS:
        t = weights.get(name)
        if t is None:
            raise InputError(f"weights.safetensors has no tensor {name!r}")
        if t.dtype != torch.float32 or tuple(t.shape) != shape:
            raise InputError(f"weights.safetensors: {name} is {t.dtype} {list(t.shape)}, want float32 {list(shape)}")
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"weights.safetensors: {name} holds NaN or infinity")
        params[name] = t
    images, labels = shard.get("images"), shard.get("labels")
    if images is None or labels is None:
        raise InputError(f"shard.safetensors needs tensors 'images' and 'labels', has {sorted(shard)}")
    if images.dtype != torch.uint8 or images.dim() != 2 or images.shape[1] != INPUTS or images.shape[0] < 1:
        raise InputError(f"shard.safetensors: images is {images.dtype} {list(images.shape)}, want uint8 [n,{INPUTS}]")
    n = images.shape[0]
    if labels.dtype != torch.uint8 or tuple(labels.shape) != (n,):
        raise InputError(f"shard.safetensors: labels is {labels.dtype} {list(labels.shape)}, want uint8 [{n}]")
    if int(labels.max()) >= CLASSES:
        raise InputError(f"shard.safetensors: label {int(labels.max())} is not a class 0-{CLASSES - 1}")
    return params, images, labels


def batches(torch, n, batch_size, steps, seed):
    """Yield steps index tensors of batch_size rows: passes over a fresh
    permutation of the shard, drawn on the CPU so every device sees the
    same order."""
    g = torch.Generator()
    g.manual_seed(seed)
    perm, pos = torch.randperm(n, generator=g), 0
    for _ in range(steps):
        parts, need = [], batch_size
        while need > 0:
            if pos == n:
                perm, pos = torch.randperm(n, generator=g), 0
            take = min(need, n - pos)
            parts.append(perm[pos:pos + take])
            pos, need = pos + take, need - take
        yield parts[0] if len(parts) == 1 else torch.cat(parts)


def train(torch, params, images, labels, args, seed, device):
    """Run the inner steps; return (params, mean loss, final loss)."""
    import torch.nn.functional as F

    x = images.to(device).to(torch.float32).mul_(1.0 / 255)
    # The loss is written with a one-hot mask rather than F.cross_entropy:
    # the same value, but every op is deterministic on CUDA (nll_loss's
    # backward may use atomics).
    onehot = F.one_hot(labels.to(device).long(), CLASSES).to(torch.float32)
    ps = {k: v.to(device).clone().requires_grad_(True) for k, v in params.items()}
    w0, b0, w1, b1 = (ps[name] for name, _ in LAYERS)
    opt = torch.optim.SGD([w0, b0, w1, b1], lr=args.lr, momentum=args.momentum)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    last = None
    for idx in batches(torch, x.shape[0], args.batch_size, args.steps, seed):
        idx = idx.to(device)
        logits = F.linear(F.relu(F.linear(x.index_select(0, idx), w0, b0)), w1, b1)
        loss = -(F.log_softmax(logits, dim=1) * onehot.index_select(0, idx)).sum(dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last = loss.detach()
        loss_sum += last.to(torch.float64)
    mean, final = loss_sum.item() / args.steps, last.item()  # .item() waits for the device
    return ps, mean, final


def set_deterministic(torch):
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False  # full float32 matmuls, closer across GPUs
    torch.backends.cudnn.allow_tf32 = False
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except (AttributeError, TypeError):  # torch before 1.11
        pass


def run(argv):
    started = time.perf_counter()
    args = parse_args(argv)
    in_dir, out_dir = env_dir("GRIDSWARM_IN"), env_dir("GRIDSWARM_OUT")
    seed = env_seed()
    # cuBLAS is deterministic only with a fixed workspace; it must be set
    # before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    try:
        import torch
    except ImportError:
        raise InputError("PyTorch is not installed for this python3: pip install torch") from None

    set_deterministic(torch)
    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    weights = load_tensors(torch, os.path.join(in_dir, "weights.safetensors"))
    shard = load_tensors(torch, os.path.join(in_dir, "shard.safetensors"))
    params, images, labels = check_inputs(torch, weights, shard)

    t0 = time.perf_counter()
    ps, mean, final = train(torch, params, images, labels, args, seed, device)
    seconds = time.perf_counter() - t0
    if not (math.isfinite(mean) and math.isfinite(final)):
        print(f"training diverged: loss {final} after {args.steps} steps: lower --lr", file=sys.stderr)
        return 3

    # One metadata key only: the safetensors package keeps metadata in a
    # hash map, so with several keys their order, and so the file's bytes,
    # would change from run to run. The seed and steps are in metrics.json.
    save_tensors(torch, os.path.join(out_dir, "weights.safetensors"), ps, {"format": "pt"})
    metrics = {
        "loss": mean,
        "final_loss": final,
        "steps": args.steps,
        "samples": args.steps * args.batch_size,
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "seconds": seconds,
        "total_seconds": time.perf_counter() - started,
        "seed": str(seed),  # a string: JSON readers may lose bits of a uint64
        "torch": torch.__version__,
    }
    tmp = os.path.join(out_dir, "metrics.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "metrics.json"))
    print(json.dumps(metrics, sort_keys=True))
    return 0


def main():
    try:
        return run(sys.argv[1:])
    except InputError as e:
        print(f"train_tasklet: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
