#!/usr/bin/env python3
"""A PyTorch tasklet for gridswarm's process executor (program contract v1).

It trains an MLP (ReLU between the layers) for H inner steps on one data
shard, starting from the round's global weights, and writes how the weights
moved. It is the PyTorch twin of gridswarm's built-in trainer: same tensor
names and layout (layer<i>.weight [out, in], layer<i>.bias [out]), same
loss (mean softmax cross-entropy), pixels scaled to [0, 1] by 1/255, SGD
with heavy-ball momentum or AdamW, so its delta is merged by the same
DiLoCo outer step and the coordinator evaluates the result with the
built-in evaluator (docs/programs.md).

Inputs, in $GRIDSWARM_IN:
  params.json          the job's model (kind mlp, inputs, hidden, classes),
                       steps, batch_size and optimizer (kind sgd or adam,
                       lr, momentum, beta1, beta2, eps, weight_decay);
                       without it, the arguments below and a 784-128-10 MLP
  weights.safetensors  F32 layer0.weight [hidden0, inputs], layer0.bias ...
  shard.safetensors    U8 images [n, inputs], U8 labels [n]

Outputs, in $GRIDSWARM_OUT:
  delta.safetensors    local weights minus the global ones, same names,
                       dtypes and shapes
  metrics.json         loss (mean minibatch loss), samples, steps, and the
                       executor class: device, device_name, torch, cuda,
                       cudnn, driver, threads; with final_loss and seed.
                       Nothing measured (timings go to stdout), so that
                       replicas give the same bytes

Arguments (only without params.json): --steps H --batch-size B --lr LR
[--momentum M]. The seed comes from $GRIDSWARM_SEED. CUDA is used when
available; --device cpu forces the CPU. Runs with the same inputs and seed
on the same kind of device and software give the same bytes
(torch.use_deterministic_algorithms, CUBLAS_WORKSPACE_CONFIG=:4096:8, no
TF32); GPU and CPU results differ in the last bits, so replicas are compared
with a tolerance within one executor class, as gridswarm does for process
work.

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

# The network without params.json: 784-128-10, MNIST's.
DEFAULT_MODEL = {"kind": "mlp", "inputs": 784, "hidden": [128], "classes": 10}
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

def layers(model):
    """The (name, shape) of every tensor of an MLP, in the built-in
    trainer's order and layout."""
    widths = [model["inputs"], *(model.get("hidden") or []), model["classes"]]
    out = []
    for i in range(len(widths) - 1):
        out.append((f"layer{i}.weight", (widths[i + 1], widths[i])))
        out.append((f"layer{i}.bias", (widths[i + 1],)))
    return out


def _num(d, key, default, lo, hi, what):
    v = d.get(key, default)
    if v is None:
        v = default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise InputError(f"{what}: {key} = {v!r}, want a number from {lo} to {hi}")
    return v


def parse_settings(in_dir, argv):
    """The model and training settings: params.json when the coordinator
    wrote one (a coordinated job), else the arguments."""
    path = os.path.join(in_dir, "params.json")
    if not os.path.exists(path):
        p = argparse.ArgumentParser(description="Train an MLP for H steps on one shard.")
        p.add_argument("--steps", type=int, required=True, help="inner steps H")
        p.add_argument("--batch-size", type=int, required=True, help="minibatch size B")
        p.add_argument("--lr", type=float, required=True, help="learning rate")
        p.add_argument("--momentum", type=float, default=0.0, help="SGD heavy-ball momentum, 0 to 1 (default 0)")
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
        a = p.parse_args(argv)
        params = {"model": DEFAULT_MODEL, "steps": a.steps, "batch_size": a.batch_size,
                  "optimizer": {"kind": "sgd", "lr": a.lr, "momentum": a.momentum}}
        device = a.device
    else:
        p = argparse.ArgumentParser(description="Train the job's MLP as params.json says.")
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
        device = p.parse_args(argv).device
        if os.path.getsize(path) > 1 << 20:
            raise InputError("params.json is over 1 MiB")
        try:
            with open(path, encoding="utf-8") as f:
                params = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError(f"params.json: {e}") from None
        if not isinstance(params, dict):
            raise InputError("params.json is not a JSON object")
    model = params.get("model")
    if not isinstance(model, dict) or model.get("kind") not in ("mlp", "softmax"):
        raise InputError(f"params.json: model {model!r}: this tasklet trains kind mlp or softmax")
    for k in ("inputs", "classes"):
        _num(model, k, None, 1, 1 << 20, "model")
    hidden = model.get("hidden") or []
    if not isinstance(hidden, list) or not all(isinstance(h, int) and 1 <= h <= 1 << 16 for h in hidden):
        raise InputError(f"model: hidden = {hidden!r}, want a list of widths")
    opt = params.get("optimizer") or {}
    if not isinstance(opt, dict) or opt.get("kind") not in ("sgd", "adam"):
        raise InputError(f"optimizer {opt!r}: want kind sgd or adam")
    s = {
        "model": model,
        "steps": int(_num(params, "steps", None, 1, MAX_STEPS, "params")),
        "batch_size": int(_num(params, "batch_size", None, 1, MAX_BATCH, "params")),
        "kind": opt["kind"],
        "lr": _num(opt, "lr", None, 1e-12, 10, "optimizer"),
        "momentum": _num(opt, "momentum", 0, 0, 0.999999, "optimizer"),
        "beta1": _num(opt, "beta1", 0, 0, 0.999999, "optimizer") or 0.9,
        "beta2": _num(opt, "beta2", 0, 0, 0.999999, "optimizer") or 0.999,
        "eps": _num(opt, "eps", 0, 0, 1, "optimizer") or 1e-8,
        "weight_decay": _num(opt, "weight_decay", 0, 0, 1, "optimizer"),
        "device": device,
    }
    if s["steps"] != params.get("steps") or s["batch_size"] != params.get("batch_size"):
        raise InputError("params: steps and batch_size must be integers")
    return s


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


def check_inputs(torch, spec, weights, shard, classes):
    """Check tensor names, dtypes and shapes; return (params, images, labels)."""
    want = {name for name, _ in spec}
    extra = sorted(set(weights) - want)
    if extra:
        raise InputError(f"weights.safetensors has tensors this MLP does not use: {extra}")
    params = {}
    for name, shape in spec:
        t = weights.get(name)
        if t is None:
            raise InputError(f"weights.safetensors has no tensor {name!r}")
        if t.dtype != torch.float32 or tuple(t.shape) != shape:
            raise InputError(f"weights.safetensors: {name} is {t.dtype} {list(t.shape)}, want float32 {list(shape)}")
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"weights.safetensors: {name} holds NaN or infinity")
        params[name] = t
    inputs = spec[0][1][1]
    images, labels = shard.get("images"), shard.get("labels")
    if images is None or labels is None:
        raise InputError(f"shard.safetensors needs tensors 'images' and 'labels', has {sorted(shard)}")
    if images.dtype != torch.uint8 or images.dim() < 2 or images[0].numel() != inputs or images.shape[0] < 1:
        raise InputError(f"shard.safetensors: images is {images.dtype} {list(images.shape)}, want uint8 [n,{inputs}]")
    images = images.reshape(images.shape[0], inputs)
    n = images.shape[0]
    if labels.dtype != torch.uint8 or tuple(labels.shape) != (n,):
        raise InputError(f"shard.safetensors: labels is {labels.dtype} {list(labels.shape)}, want uint8 [{n}]")
    if int(labels.max()) >= classes:
        raise InputError(f"shard.safetensors: label {int(labels.max())} is not a class 0-{classes - 1}")
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


def train(torch, spec, params, images, labels, s, seed, device, classes):
    """Run the inner steps; return (params, mean loss, final loss)."""
    import torch.nn.functional as F

    x = images.to(device).to(torch.float32).mul_(1.0 / 255)
    # The loss is written with a one-hot mask rather than F.cross_entropy:
    # the same value, but every op is deterministic on CUDA (nll_loss's
    # backward may use atomics).
    onehot = F.one_hot(labels.to(device).long(), classes).to(torch.float32)
    ps = {k: v.to(device).clone().requires_grad_(True) for k, v in params.items()}
    order = [ps[name] for name, _ in spec]
    if s["kind"] == "adam":  # the built-in trainer's adam is AdamW
        opt = torch.optim.AdamW(order, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                                weight_decay=s["weight_decay"])
    else:
        opt = torch.optim.SGD(order, lr=s["lr"], momentum=s["momentum"], weight_decay=s["weight_decay"])
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    last = None
    for idx in batches(torch, x.shape[0], s["batch_size"], s["steps"], seed):
        h = x.index_select(0, idx.to(device))
        for i in range(0, len(order), 2):
            h = F.linear(h, order[i], order[i + 1])
            if i + 2 < len(order):
                h = F.relu(h)
        loss = -(F.log_softmax(h, dim=1) * onehot.index_select(0, idx.to(device))).sum(dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last = loss.detach()
        loss_sum += last.to(torch.float64)
    mean, final = loss_sum.item() / s["steps"], last.item()  # .item() waits for the device
    return ps, mean, final


def set_deterministic(torch):
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False  # full float32 matmuls, closer across GPUs
    torch.backends.cudnn.allow_tf32 = False
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except (AttributeError, TypeError):  # torch before 1.11
        pass


def nvidia_driver():
    """The NVIDIA driver's version, where the sandbox lets it be read."""
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            line = f.readline()
    except OSError:
        return ""
    for word in line.split():
        if word[:1].isdigit() and "." in word:
            return word
    return ""


def executor_class(torch, device):
    """What the run depends on, for comparing replicas like with like."""
    cuda = device.type == "cuda"
    return {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__,
        "cuda": (torch.version.cuda or "") if cuda else "",
        "cudnn": str(torch.backends.cudnn.version() or "") if cuda else "",
        "driver": nvidia_driver() if cuda else "",
        "threads": torch.get_num_threads(),
    }


def run(argv):
    started = time.perf_counter()
    in_dir, out_dir = env_dir("GRIDSWARM_IN"), env_dir("GRIDSWARM_OUT")
    s = parse_settings(in_dir, argv)
    seed = env_seed()
    # cuBLAS is deterministic only with a fixed workspace; it must be set
    # before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    try:
        import torch
    except ImportError:
        raise InputError("PyTorch is not installed for this python3: apt-get install python3-torch") from None

    set_deterministic(torch)
    torch.manual_seed(seed % (1 << 63))
    want = s["device"]
    if want == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: PyTorch sees no GPU here")
    device = torch.device("cuda" if want != "cpu" and torch.cuda.is_available() else "cpu")
    model = s["model"]
    spec = layers(model)
    weights = load_tensors(torch, os.path.join(in_dir, "weights.safetensors"))
    shard = load_tensors(torch, os.path.join(in_dir, "shard.safetensors"))
    params, images, labels = check_inputs(torch, spec, weights, shard, model["classes"])

    t0 = time.perf_counter()
    ps, mean, final = train(torch, spec, params, images, labels, s, seed % (1 << 63), device, model["classes"])
    seconds = time.perf_counter() - t0
    if not (math.isfinite(mean) and math.isfinite(final)):
        print(f"training diverged: loss {final} after {s['steps']} steps: lower the learning rate", file=sys.stderr)
        return 3

    delta = {k: ps[k].detach().to("cpu") - params[k] for k, _ in spec}
    # One metadata key only: the safetensors package keeps metadata in a
    # hash map, so with several keys their order, and so the file's bytes,
    # would change from run to run. The seed and steps are in metrics.json.
    save_tensors(torch, os.path.join(out_dir, "delta.safetensors"), delta, {"format": "pt"})
    # Nothing measured goes into the outputs: replicas of the tasklet must
    # give the same bytes, so timings are printed to stdout only.
    metrics = {
        "loss": mean,
        "final_loss": final,
        "steps": s["steps"],
        "samples": s["steps"] * s["batch_size"],
        "seed": str(seed),  # a string: JSON readers may lose bits of a uint64
        **executor_class(torch, device),
    }
    tmp = os.path.join(out_dir, "metrics.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out_dir, "metrics.json"))
    timing = {"seconds": seconds, "total_seconds": time.perf_counter() - started}
    print(json.dumps({**metrics, **timing}, sort_keys=True))
    return 0


def main():
    try:
        return run(sys.argv[1:])
    except InputError as e:
        print(f"train_tasklet: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
