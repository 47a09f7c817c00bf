#!/usr/bin/env python3
"""Writes the committed test fixtures from torchvision (the reference), and runs full-size checks.

    python3 tools/make_fixtures.py            # regenerate tests/fixtures/ and assets/
    python3 tools/make_fixtures.py --full     # full-width checks of `shufflenet run` vs torchvision
                                              # and the tutorial's three factories
    python3 tools/make_fixtures.py --full --tutorial   # the tutorial's factories only
    python3 tools/make_fixtures.py --teach    # `shufflenet teach` output loads into torchvision
                                              # (num_classes=K) and gives the engine's logits
    python3 tools/make_fixtures.py --teach-photos     # the issue's case: `shufflenet teach` on
                                              # 24 photo crops per class (x0.5, random BN): held-out
                                              # accuracy, largest fc weight, "none of these" rates,
                                              # and the export's logits in torchvision
    python3 tools/make_fixtures.py --teach-fixtures   # tests/fixtures/teach_*.safetensors:
                                              # photo crops and torchvision's pooled features of
                                              # every width's backbone (needs the release CLI)

Every expected value the tests read comes from here. Weights are seeded random, BatchNorm
running statistics and affine parameters included, so a BN-folding bug cannot hide.
"""
import argparse
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torchvision import transforms
from torchvision.models import ShuffleNetV2
from torchvision.models._meta import _IMAGENET_CATEGORIES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
WIDTHS = {
    "0.5": [24, 48, 96, 192, 1024],
    "1.0": [24, 116, 232, 464, 1024],
    "1.5": [24, 176, 352, 704, 1024],
    "2.0": [24, 244, 488, 976, 2048],
}
# The narrow network the committed fixtures use: torchvision's own constructor, odd widths.
SMALL = dict(stages_repeats=[2, 3, 2], stages_out_channels=[8, 16, 32, 64, 96], num_classes=10)
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def randomize(model, seed):
    """Random conv/fc weights plus random BN affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(7)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                bound = (6.0 / fan_in) ** 0.5
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
    return model.eval()


def stage_outputs(model, x):
    """Stem (conv1 + maxpool), stage2-4 outputs and logits, as torchvision computes them."""
    with torch.no_grad():
        stem = model.maxpool(model.conv1(x))
        s2 = model.stage2(stem)
        s3 = model.stage3(s2)
        s4 = model.stage4(s3)
        logits = model(x)
    return dict(stem=stem, stage2=s2, stage3=s3, stage4=s4, logits=logits)


# The tutorial's ShuffleNetV2 (issue 11), written from its facts: conv biases, ReLU6, two
# units per stage, the processed half first, `groups`-way 3x3 convs and channel shuffle.
TUTORIAL_PLANES = {"2.0": [244, 488, 976], "1.0": [116, 232, 464], "0.5": [48, 96, 192]}
# The narrow instances the committed fixtures use (conv5 narrowed too, to keep them small).
TUTORIAL_SMALL = dict(planes=[32, 48, 64], conv5=40, num_classes=5)


def tutorial_conv(inp, out, k, stride, groups, act):
    """Sequential(conv with bias, BN[, ReLU6]): state_dict entries `0.*` and `1.*`."""
    layers = [torch.nn.Conv2d(inp, out, k, stride, k // 2, groups=groups, bias=True),
              torch.nn.BatchNorm2d(out)]
    return torch.nn.Sequential(*layers, *([torch.nn.ReLU6(inplace=True)] if act else []))


def tutorial_shuffle(x, groups):
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


class TutorialUnit(torch.nn.Module):
    def __init__(self, inp, out, stride, groups):
        super().__init__()
        self.stride, self.groups = stride, groups
        if stride == 2:
            mid = out - inp
            self.bottleneck = torch.nn.Sequential(
                tutorial_conv(inp, inp, 1, 1, 1, True),
                tutorial_conv(inp, mid, 3, 2, groups, False),
                tutorial_conv(mid, mid, 1, 1, 1, True))
            self.shortcut = torch.nn.Sequential(
                tutorial_conv(inp, inp, 3, 2, groups, False),
                tutorial_conv(inp, inp, 1, 1, 1, True))
        else:
            mid = out // 2
            self.bottleneck = torch.nn.Sequential(
                tutorial_conv(mid, mid, 1, 1, 1, True),
                tutorial_conv(mid, mid, 3, 1, groups, False),
                tutorial_conv(mid, mid, 1, 1, 1, True))

    def forward(self, x):
        if self.stride == 2:
            y = torch.cat([self.bottleneck(x), self.shortcut(x)], 1)
        else:
            a, b = x.chunk(2, dim=1)
            y = torch.cat([self.bottleneck(a), b], 1)
        return tutorial_shuffle(y, self.groups)


class TutorialShuffleNetV2(torch.nn.Module):
    """Two units per stage (stage2's first with 1 group); conv5 without BN or activation."""

    def __init__(self, planes, groups=1, num_classes=5, conv5=1024):
        super().__init__()
        self.stage1 = torch.nn.Sequential(tutorial_conv(3, 24, 3, 2, 1, True),
                                          torch.nn.MaxPool2d(3, 2, 1))
        inp = 24
        for s, p in enumerate(planes):
            first = TutorialUnit(inp, p, 2, 1 if s == 0 else groups)
            setattr(self, f"stage{s + 2}", torch.nn.Sequential(first, TutorialUnit(p, p, 1, groups)))
            inp = p
        self.conv5 = torch.nn.Conv2d(inp, conv5, 1)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.dropout = torch.nn.Dropout(0.2)  # defined by the tutorial, never used
        self.linear = torch.nn.Linear(conv5, num_classes)

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.linear(self.pool(self.conv5(x)).flatten(1))


def tutorial_factory(width, num_classes=5):
    """The tutorial's shufflenet_v2_x{2_0,1_0,0_5} (x1_5's second definition is x1.0's)."""
    return TutorialShuffleNetV2(TUTORIAL_PLANES[width], 1, num_classes, 2048 if width == "2.0" else 1024)


def tutorial_stage_outputs(model, x):
    with torch.no_grad():
        stem = model.stage1(x)
        s2 = model.stage2(stem)
        s3 = model.stage3(s2)
        s4 = model.stage4(s3)
        logits = model(x)
    return dict(stem=stem, stage2=s2, stage3=s3, stage4=s4, logits=logits)


def write_tutorial_fixtures():
    """tutorial_g{1,2}.mdl (torch.save of the state_dict, as the tutorial's readers save it)
    and tutorial_io.safetensors: one small input, every stage and the logits of each."""
    x = torch.randn(2, 3, 29, 35, generator=torch.Generator().manual_seed(4))
    io = {"input": x}
    for groups in [1, 2]:
        model = randomize(TutorialShuffleNetV2(groups=groups, **TUTORIAL_SMALL), seed=20 + groups)
        torch.save(model.state_dict(), os.path.join(FIX, f"tutorial_g{groups}.mdl"))
        for k, v in tutorial_stage_outputs(model, x).items():
            io[f"g{groups}.{k}"] = v
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(FIX, "tutorial_io.safetensors"))


def test_image():
    """A 97 x 61 RGB picture with edges, gradients and noise, so resampling errors show."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:61, 0:97]
    img = np.stack([x * 255 / 96, y * 255 / 60, ((x // 8 + y // 8) % 2) * 200 + 20], axis=-1)
    img = img + rng.normal(0, 12, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def square_transform(img):
    side = min(img.size)
    left, top = (img.size[0] - side) // 2, (img.size[1] - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((224, 224), Image.BILINEAR)
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])(img)


def write_fixtures():
    os.makedirs(FIX, exist_ok=True)
    with open(os.path.join(ROOT, "assets", "imagenet_classes.txt"), "w") as f:
        f.write("\n".join(_IMAGENET_CATEGORIES) + "\n")

    torch.manual_seed(0)
    model = randomize(ShuffleNetV2(**SMALL), seed=1)
    sd = model.state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(FIX, "small.safetensors"))
    save_file(
        {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()},
        os.path.join(FIX, "small_f16.safetensors"),
    )
    torch.save(sd, os.path.join(FIX, "small.pth"))
    torch.save(sd, os.path.join(FIX, "small_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in sd.items()},
               os.path.join(FIX, "small_f16.pth"))

    x = torch.randn(2, 3, 37, 45, generator=torch.Generator().manual_seed(2))
    outs = stage_outputs(model, x)
    io = {"input": x, **outs}
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(FIX, "small_io.safetensors"))
    np.save(os.path.join(FIX, "small_input.npy"), x.numpy())
    np.save(os.path.join(FIX, "small_logits.npy"), outs["logits"].numpy())

    img = test_image()
    img.save(os.path.join(FIX, "image.png"))
    evalt = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224),
        transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    # Expected tensors in F16 (plenty for a 1/255-level comparison) keep the fixture small.
    save_file({"pixels": torch.from_numpy(np.asarray(img).copy()),
               "eval": evalt(img).unsqueeze(0).half().contiguous(),
               "square": square_transform(img).unsqueeze(0).half().contiguous()},
              os.path.join(FIX, "preprocess.safetensors"))

    # Learnable parameter counts per width, as torchvision counts them (the tests compare).
    with open(os.path.join(FIX, "param_counts.txt"), "w") as f:
        for w, ch in WIDTHS.items():
            n = sum(p.numel() for p in ShuffleNetV2([4, 8, 4], ch).parameters())
            f.write(f"{w} {n}\n")

    write_tutorial_fixtures()
    meta = {"small": SMALL, "input_shape": list(x.shape), "torch": torch.__version__,
            "tutorial_small": TUTORIAL_SMALL}
    with open(os.path.join(FIX, "README.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("fixtures written to", FIX)


# What `--full` asserts (relative to the largest torchvision logit), per weights dtype.
FULL_BOUNDS = {"F32": 1e-4, "F16": 2e-2}
# Each backend `shufflenet run` is checked with (WebGPU: both kernel sets).
FULL_BACKENDS = [
    ["--backend", "cpu"],
    ["--backend", "webgpu", "--kernels", "software"],
    ["--backend", "webgpu", "--kernels", "hardware"],
]


def full_check(widths, cli):
    """Full-size networks: torchvision logits vs `shufflenet run` on every backend, F32 and F16
    weights; fails when any exceeds FULL_BOUNDS."""
    out_dir = os.path.join(ROOT, "target", "full-check")
    os.makedirs(out_dir, exist_ok=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    np.save(os.path.join(out_dir, "input.npy"), x.numpy())
    failures = 0
    for w in widths:
        model = randomize(ShuffleNetV2([4, 8, 4], WIDTHS[w]), seed=11)
        with torch.no_grad():
            want = model(x).numpy()
        for dtype in ["F32", "F16"]:
            path = os.path.join(out_dir, f"x{w}_{dtype}.safetensors")
            sd = model.state_dict()
            if dtype == "F16":
                sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
            save_file({k: v.contiguous() for k, v in sd.items()}, path)
            for backend in FULL_BACKENDS:
                got_path = os.path.join(out_dir, f"x{w}_{dtype}_logits.npy")
                subprocess.run(cli + ["run", path, os.path.join(out_dir, "input.npy"), got_path] + backend,
                               check=True)
                got = np.load(got_path)
                rel = float(np.abs(got - want).max() / np.abs(want).max())
                print(json.dumps({"width": w, "weights": dtype, "backend": " ".join(backend[1::2]),
                                  "max_abs_logit": float(np.abs(want).max()), "max_rel_diff": rel}))
                failures += rel > FULL_BOUNDS[dtype]
    if failures:
        sys.exit(f"{failures} full-size checks exceeded their bounds {FULL_BOUNDS}")


# The backends `--full` checks the tutorial's factories on: every one runs its network.
TUTORIAL_FULL_BACKENDS = [["--backend", "reference"]] + FULL_BACKENDS


def tutorial_full_check(cli):
    """The tutorial's three factories at full size, saved as its readers do (`.mdl`, F32 and
    F16): PyTorch logits vs `shufflenet run`; fails when any exceeds FULL_BOUNDS."""
    out_dir = os.path.join(ROOT, "target", "full-check")
    os.makedirs(out_dir, exist_ok=True)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    np.save(os.path.join(out_dir, "tutorial_input.npy"), x.numpy())
    failures = 0
    for w in ["2.0", "1.0", "0.5"]:
        model = randomize(tutorial_factory(w), seed=12)
        with torch.no_grad():
            want = model(x).numpy()
        for dtype in ["F32", "F16"]:
            sd = model.state_dict()
            if dtype == "F16":
                sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
            path = os.path.join(out_dir, f"tutorial_x{w}_{dtype}.mdl")
            torch.save(sd, path)
            for backend in TUTORIAL_FULL_BACKENDS:
                got_path = os.path.join(out_dir, f"tutorial_x{w}_{dtype}_logits.npy")
                subprocess.run(cli + ["run", path, os.path.join(out_dir, "tutorial_input.npy"), got_path]
                               + backend, check=True)
                got = np.load(got_path)
                rel = float(np.abs(got - want).max() / np.abs(want).max())
                print(json.dumps({"tutorial": w, "weights": dtype, "backend": " ".join(backend[1::2]),
                                  "max_abs_diff": float(np.abs(got - want).max()),
                                  "max_abs_logit": float(np.abs(want).max()), "max_rel_diff": rel}))
                failures += rel > FULL_BOUNDS[dtype]
    if failures:
        sys.exit(f"{failures} tutorial full-size checks exceeded their bounds {FULL_BOUNDS}")


# Photo crops for Teach (issue 22): scikit-image's bundled pictures (public domain or CC0), the
# three taught classes and the never-taught astronaut the issue names.
TEACH_PICTURES = ["rocket", "chelsea", "coffee", "astronaut"]
TEACH_SIDE = 56
# Crops per picture; the first TEACH_TAUGHT of each class are taught, the rest are compared
# with torchvision (and the astronaut's are all compared).
TEACH_CROPS = [10, 10, 10, 4]
TEACH_TAUGHT = 8
# The backbones of tests/teach_export.rs: (name, `shufflenet random` arguments).
TEACH_BACKBONES = [
    ("x0.5", ["--width", "0.5"]), ("x1.0", ["--width", "1.0"]),
    ("x1.5", ["--width", "1.5"]), ("x2.0", ["--width", "2.0"]),
    ("tutorial_x0.5_g1", ["--width", "0.5", "--tutorial", "--groups", "1"]),
    ("tutorial_x1.0_g2", ["--width", "1.0", "--tutorial", "--groups", "2"]),
]
TEACH_SEED = 13


def flatten_features(sd):
    """The rule `flatten_features` in tests/teach_export.rs applies too: conv5's output
    channel c gets its gain (BatchNorm weight, or the tutorial's conv5 weight row) times 0
    when c % 8 == 0 (an exactly constant pooled feature) and times 1e-5 when c % 8 == 1 (a
    near-constant one, the issue's bad case)."""
    gain = sd["conv5.1.weight"] if "conv5.1.weight" in sd else sd["conv5.weight"]
    c = torch.arange(gain.shape[0])
    gain[c % 8 == 0] *= 0.0
    gain[c % 8 == 1] *= 1e-5


def random_crop(img, rng):
    """A square of 30 % to 60 % of the picture's shorter side, anywhere in it."""
    w, h = img.size
    side = int(rng.uniform(0.3, 0.6) * min(w, h))
    left, top = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
    return img.crop((left, top, left + side, top + side))


def teach_crops():
    """(uint8 [N, side, side, 3], labels [N]; label 3 is the untaught astronaut)."""
    import skimage.data
    rng = np.random.default_rng(22)
    crops, labels = [], []
    for label, (name, count) in enumerate(zip(TEACH_PICTURES, TEACH_CROPS)):
        img = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        for _ in range(count):
            crop = random_crop(img, rng)
            crops.append(np.asarray(crop.resize((TEACH_SIDE, TEACH_SIDE), Image.BILINEAR)))
            labels.append(label)
    return np.stack(crops), np.array(labels, dtype=np.uint8)


def pooled_features(model, x):
    """The input of the classifier: conv5's output averaged over space."""
    with torch.no_grad():
        if hasattr(model, "stage1"):
            return model.pool(model.conv5(model.stage4(model.stage3(model.stage2(model.stage1(x)))))).flatten(1)
        stem = model.maxpool(model.conv1(x))
        return model.conv5(model.stage4(model.stage3(model.stage2(stem)))).mean([2, 3])


def write_teach_fixtures(cli):
    """teach_crops.safetensors (the crops and their labels) and teach_features.safetensors:
    torchvision's pooled features of the compared crops for each backbone of TEACH_BACKBONES,
    built by the CLI from TEACH_SEED and flattened by `flatten_features`."""
    from safetensors.torch import load_file
    crops, labels = teach_crops()
    save_file({"pixels": torch.from_numpy(crops), "labels": torch.from_numpy(labels)},
              os.path.join(FIX, "teach_crops.safetensors"),
              metadata={"classes": json.dumps(TEACH_PICTURES[:3]), "unknown": TEACH_PICTURES[3],
                        "taught_per_class": str(TEACH_TAUGHT),
                        "source": "scikit-image's data: " + ", ".join(TEACH_PICTURES)})
    compared = [i for i in range(len(labels))
                if labels[i] == 3 or i - list(labels).index(labels[i]) >= TEACH_TAUGHT]
    x = torch.from_numpy(crops[compared]).permute(0, 3, 1, 2).float() / 255.0
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    out_dir = os.path.join(ROOT, "target", "teach-fixtures")
    os.makedirs(out_dir, exist_ok=True)
    features = {"compared": torch.tensor(compared, dtype=torch.uint8)}
    for name, args in TEACH_BACKBONES:
        path = os.path.join(out_dir, name + ".safetensors")
        subprocess.run(cli + ["random", path, "--seed", str(TEACH_SEED)] + args, check=True)
        sd = load_file(path)
        flatten_features(sd)
        if name.startswith("tutorial"):
            w, g = args[1], int(args[-1])
            model = TutorialShuffleNetV2(TUTORIAL_PLANES[w], g, 1000, 2048 if w == "2.0" else 1024)
        else:
            model = ShuffleNetV2([4, 8, 4], WIDTHS[name[1:]])
        model.load_state_dict(sd, strict=False)
        missing = set(model.state_dict()) - set(sd)
        assert all(k.endswith("num_batches_tracked") for k in missing), missing
        features[name] = pooled_features(model.eval(), x)
    save_file({k: v.contiguous() for k, v in features.items()},
              os.path.join(FIX, "teach_features.safetensors"), metadata={"torch": torch.__version__})
    print("teach fixtures written to", FIX)


def teach_photos(cli):
    """Issue 22's case at full size: 24 crops per taught class (and 12 of the untaught one)
    as image folders, taught to a seeded random x0.5 backbone; prints the CLI's held-out
    accuracy, the exported head's largest |weight| and |bias|, how many untaught and unseen
    taught crops `classify` calls unknown, then checks the export in torchvision."""
    from safetensors.torch import load_file
    import skimage.data
    out_dir = os.path.join(ROOT, "target", "teach-photos")
    rng = np.random.default_rng(5)
    folders = {}
    for name in TEACH_PICTURES:
        img = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
        splits = [("untaught", 12)] if name == "astronaut" else [("data", 24), ("unseen", 8)]
        for split, count in splits:
            folder = os.path.join(out_dir, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                random_crop(img, rng).save(os.path.join(folder, f"{i}.png"))
            folders.setdefault(split, []).append(folder)
    backbone = os.path.join(out_dir, "backbone.safetensors")
    subprocess.run(cli + ["random", backbone, "--width", "0.5", "--seed", str(TEACH_SEED)], check=True)
    taught = os.path.join(out_dir, "taught.safetensors")
    subprocess.run(cli + ["teach", backbone, os.path.join(out_dir, "data"), "-o", taught], check=True)
    head = load_file(taught)
    print(json.dumps({"largest_fc_weight": float(head["fc.weight"].abs().max()),
                      "largest_fc_bias": float(head["fc.bias"].abs().max())}))
    for split in ["unseen", "untaught"]:
        images = [os.path.join(f, n) for f in folders[split] for n in sorted(os.listdir(f))]
        out = subprocess.run(cli + ["classify", taught, "--json"] + images, check=True,
                             capture_output=True, text=True).stdout
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        unknown = sum(1 for line in lines if line.get("unknown"))
        print(json.dumps({"split": split, "images": len(lines), "called_unknown": unknown}))
    teach_roundtrip(cli, exported=taught, width="0.5")


def teach_roundtrip(cli, exported=None, width="0.5"):
    """`shufflenet teach` on two generated image folders (or, with `exported`, a file the page's
    Teach mode downloaded); the file loads strictly into
    `torchvision.models.shufflenet_v2_x{width}(num_classes=K)` with the class names in its
    metadata, and torchvision's logits match `shufflenet run`'s within 1e-4 relative."""
    import torchvision
    from safetensors import safe_open
    from safetensors.torch import load_file

    out_dir = os.path.join(ROOT, "target", "teach-check")
    os.makedirs(out_dir, exist_ok=True)
    if exported is None:
        data = os.path.join(out_dir, "data")
        rng = np.random.default_rng(3)
        for name, colour in [("apples", (200, 40, 30)), ("sea", (30, 60, 200))]:
            os.makedirs(os.path.join(data, name), exist_ok=True)
            for i in range(10):
                px = np.clip(np.array(colour) + rng.integers(-30, 30, (40, 48, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(px).save(os.path.join(data, name, f"{i}.png"))
        backbone = os.path.join(out_dir, "backbone.safetensors")
        model = randomize(ShuffleNetV2([4, 8, 4], WIDTHS["0.5"]), seed=13)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, backbone)
        taught = os.path.join(out_dir, "taught.safetensors")
        subprocess.run(cli + ["teach", backbone, data, "-o", taught], check=True)
    else:
        taught = exported

    with safe_open(taught, "pt") as f:
        names = json.loads(f.metadata()["class_names"])
    if exported is None:
        assert names == ["apples", "sea"], names
    factory = getattr(torchvision.models, "shufflenet_v2_x" + width.replace(".", "_"))
    tv = factory(num_classes=len(names)).eval()
    tv.load_state_dict(load_file(taught), strict=True)
    x = torch.randn(3, 3, 96, 80, generator=torch.Generator().manual_seed(7))
    np.save(os.path.join(out_dir, "input.npy"), x.numpy())
    got_path = os.path.join(out_dir, "logits.npy")
    subprocess.run(cli + ["run", taught, os.path.join(out_dir, "input.npy"), got_path], check=True)
    with torch.no_grad():
        want = tv(x).numpy()
    got = np.load(got_path)
    rel = float(np.abs(got - want).max() / np.abs(want).max())
    print(json.dumps({"teach_roundtrip": f"x{width}", "file": taught, "classes": names, "max_rel_diff": rel}))
    if rel > 1e-4:
        sys.exit(f"torchvision's logits for the taught head differ by {rel:.2e} (bound 1e-4)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="run full-width checks instead")
    ap.add_argument("--widths", default="0.5,1.0", help="widths for --full (default 0.5,1.0)")
    ap.add_argument("--cli", default=os.path.join(ROOT, "target", "release", "shufflenet"),
                    help="the shufflenet binary (build it with cargo build --release)")
    ap.add_argument("--tutorial", action="store_true",
                    help="with --full: only the tutorial's three factories")
    ap.add_argument("--teach", action="store_true", help="check `shufflenet teach`'s export in torchvision")
    ap.add_argument("--teach-export", metavar="FILE",
                    help="check a model the page's Teach mode downloaded (x0.5 unless --widths says otherwise)")
    ap.add_argument("--teach-fixtures", action="store_true",
                    help="write the teach fixtures (photo crops, torchvision features)")
    ap.add_argument("--teach-photos", action="store_true",
                    help="issue 22's case: teach on photo crops, report accuracy and conditioning")
    a = ap.parse_args()
    if a.teach_photos:
        teach_photos([a.cli])
    elif a.teach_fixtures:
        write_teach_fixtures([a.cli])
    elif a.teach_export:
        teach_roundtrip([a.cli], exported=a.teach_export, width=a.widths.split(",")[0])
    elif a.teach:
        teach_roundtrip([a.cli])
    elif a.full:
        if not a.tutorial:
            full_check(a.widths.split(","), [a.cli])
        tutorial_full_check([a.cli])
    else:
        write_fixtures()


if __name__ == "__main__":
    sys.exit(main())
