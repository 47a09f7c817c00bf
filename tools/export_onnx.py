#!/usr/bin/env python3
"""Export torchvision's ShuffleNetV2 with given weights to ONNX, for the ONNX Runtime Web peer.

    python3 tools/export_onnx.py --width 1.0 --weights W.safetensors --out M.onnx [--seed 0]

The weights are the safetensors state_dict our engine loads. If the file does not exist and
--seed is given, it is written first with the same seeded random weights as the crate's
`weights::random_network(arch, seed)` (SplitMix64, BatchNorm statistics random too), so the
peer and our engine run the very same network either way.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision
from safetensors.torch import load_file, save_file

MODELS = {
    "0.5": torchvision.models.shufflenet_v2_x0_5,
    "1.0": torchvision.models.shufflenet_v2_x1_0,
    "1.5": torchvision.models.shufflenet_v2_x1_5,
    "2.0": torchvision.models.shufflenet_v2_x2_0,
}

# Ranges of src/weights/random.rs for the four BatchNorm tensors.
BN_RANGES = {
    "weight": (0.5, 1.5),
    "bias": (-0.2, 0.2),
    "running_mean": (-0.2, 0.2),
    "running_var": (0.5, 1.5),
}

GAMMA = np.uint64(0x9E3779B97F4A7C15)


def splitmix_f32(seed: int, drawn: int, n: int) -> np.ndarray:
    """Values drawn+1 ..= drawn+n of the crate's SplitMix64, in [0, 1). Its state after k steps
    is seed + k * gamma, so the stream vectorises."""
    k = np.arange(drawn + 1, drawn + n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed % (1 << 64)) + k * GAMMA
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def random_state_dict(model: torch.nn.Module, seed: int) -> dict:
    """Same values as `weights::random::state_dict`: one SplitMix64 stream over the tensors in
    state_dict order (num_batches_tracked skipped), row-major within each tensor."""
    out, drawn = {}, 0
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        n = t.numel()
        u = splitmix_f32(seed, drawn, n)
        drawn += n
        part = name.rsplit(".", 1)[1]
        if t.dim() == 1 and name != "fc.bias":
            lo, hi = BN_RANGES[part]
        else:
            fan_in = max(int(np.prod(t.shape[1:])), 1)
            bound = np.sqrt(np.float32(6.0) / np.float32(fan_in), dtype=np.float32)
            lo, hi = -bound, bound
        lo, hi = np.float32(lo), np.float32(hi)
        vals = lo + (hi - lo) * u
        out[name] = torch.from_numpy(vals.astype(np.float32)).reshape(t.shape).contiguous()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", required=True, choices=sorted(MODELS))
    ap.add_argument("--weights", required=True, type=Path, help="safetensors state_dict")
    ap.add_argument("--out", required=True, type=Path, help="ONNX file to write")
    ap.add_argument("--seed", type=int, help="write seeded random weights if --weights is missing")
    args = ap.parse_args()

    model = MODELS[args.width](weights=None).eval()
    if not args.weights.exists():
        if args.seed is None:
            sys.exit(f"export_onnx.py: {args.weights} does not exist (pass --seed to generate it)")
        args.weights.parent.mkdir(parents=True, exist_ok=True)
        save_file(random_state_dict(model, args.seed), str(args.weights))
        print(f"wrote seeded random weights to {args.weights}", file=sys.stderr)

    sd = load_file(str(args.weights))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"export_onnx.py: weights do not fit x{args.width}: missing {missing}, unexpected {unexpected}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter (dynamo=False) needs no onnxscript; its deprecation note is noise here.
    warnings.filterwarnings("ignore", message="You are using the legacy TorchScript", category=DeprecationWarning)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 224, 224),),
            str(args.out),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
