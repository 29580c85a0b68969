#!/usr/bin/python3
"""Train the digits CNNs of primsel's model-selection demonstration and export them.

    /usr/bin/python3 tools/digits/train_digits.py          # writes data/digits/*

Needs Debian's python3-sklearn (the data set), python3-torch and python3-onnx; the C++ side needs none of them.

Data: sklearn.datasets.load_digits (UCI optdigits test part: 1797 8x8 images, pixel values 0..16).  Split with
fixed seeds, stratified by label:
    test  20 %  (360 images)   held out: only for the final evaluation
    train 80 %, itself split into
        fit   70 % of train    the CNNs are trained on these
        val   30 % of train    never seen by the CNNs: their right/wrong answers here train the premodel
Models take a 1x1x8x8 float input in [0, 1] (pixel / 16) and return 10 logits.  Costs differ by ~4 orders of
magnitude in MACs: `tiny` and `small` work on the 8x8 image, `medium` on a 16x16 bilinear upsampling of it,
`large` on 32x32.  The upsampling is part of the model, as two constant MatMuls (R x R^T with R the 1-D
interpolation matrix): primsel's ONNX reader has no Resize, and this is the same linear map.  Training uses
random +-1 pixel shifts; BatchNorm is folded into the convolutions by the exporter.

Outputs (all deterministic for the seeds below; torch uses one thread):
    data/digits/digits.bin        the split data set (format in data/digits/README.md)
    data/digits/<model>.onnx      opset 13, batch 1
    data/digits/models.txt        name, MACs, parameters, torch accuracy on fit / val / test
"""

import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "data", "digits"))

SPLIT_SEED = 2024  # test / train split
VAL_SEED = 7       # fit / val split inside train
TRAIN_SEED = 1     # weights init and batch order
SPLIT_FIT, SPLIT_VAL, SPLIT_TEST = 0, 1, 2


def interpolation_matrix(n_in, n_out):
    """Bilinear (align_corners=False) 1-D interpolation as an n_out x n_in matrix."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    scale = n_in / n_out
    for o in range(n_out):
        src = max((o + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(np.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        w = src - i0
        m[o, i0] += 1 - w
        m[o, i1] += w
    return m


class Upsample(nn.Module):
    """8x8 -> s x s bilinear upsampling as two MatMuls, R x R^T (R: s x 8), which primsel's reader maps to MatMul."""

    def __init__(self, size):
        super().__init__()
        self.size = size
        r = torch.tensor(interpolation_matrix(8, size), dtype=torch.float32)
        self.register_buffer("r", r)
        self.register_buffer("rt", r.t().contiguous())

    def forward(self, x):
        if x.shape[0] == 1:  # the exported graph: 2-D MatMuls only
            return torch.matmul(torch.matmul(self.r, x.reshape(8, 8)), self.rt).reshape(1, 1, self.size, self.size)
        return torch.matmul(torch.matmul(self.r, x), self.rt)  # training batches: the same map, batched


def conv(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class Net(nn.Module):
    def __init__(self, features, flat, upsample=None):
        super().__init__()
        self.up = Upsample(upsample) if upsample else None
        self.features = nn.Sequential(*features)
        self.fc = nn.Linear(flat, 10)

    def forward(self, x):
        if self.up is not None:
            x = self.up(x)
        return self.fc(torch.flatten(self.features(x), 1))


def make(name):
    if name == "tiny":  # 8x8: one 4-channel conv, pool, linear
        return Net([*conv(1, 4), nn.MaxPool2d(2)], 4 * 16)
    if name == "small":  # 8x8: two convs
        return Net([*conv(1, 8), *conv(8, 16), nn.MaxPool2d(2)], 16 * 16)
    if name == "medium":  # 16x16: three convs
        return Net([*conv(1, 16), nn.MaxPool2d(2), *conv(16, 32), *conv(32, 32), nn.MaxPool2d(2)], 32 * 16, upsample=16)
    if name == "large":  # 32x32: VGG-style, five convs
        return Net([*conv(1, 16), *conv(16, 32), nn.MaxPool2d(2), *conv(32, 64), *conv(64, 64), nn.MaxPool2d(2),
                    *conv(64, 64), nn.MaxPool2d(2)], 64 * 16, upsample=32)
    raise ValueError(name)


MODELS = ["tiny", "small", "medium", "large"]
EPOCHS = {"tiny": 60, "small": 50, "medium": 40, "large": 40}


def macs(model):
    total = 0
    hooks = []

    def count(m, i, o):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features
    for m in model.modules():
        hooks.append(m.register_forward_hook(count))
    with torch.no_grad():
        model(torch.zeros(1, 1, 8, 8))
    for h in hooks:
        h.remove()
    if model.up is not None:
        total += model.up.size * 8 * 8 + model.up.size * 8 * model.up.size
    return total


def shift_batch(x, g):
    """Random shifts by -1..1 pixel (zero fill): the usual augmentation, seeded."""
    out = torch.zeros_like(x)
    padded = F.pad(x, (1, 1, 1, 1))
    d = torch.randint(0, 3, (x.shape[0], 2), generator=g)
    for i in range(x.shape[0]):
        out[i] = padded[i, :, d[i, 0]:d[i, 0] + 8, d[i, 1]:d[i, 1] + 8]
    return out


def train(name, x, y):
    torch.manual_seed(TRAIN_SEED)
    g = torch.Generator().manual_seed(TRAIN_SEED)
    model = make(name)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    epochs = EPOCHS[name]
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(x) + 31) // 32))
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for b in range(0, len(x), 32):
            idx = perm[b:b + 32]
            loss = F.cross_entropy(model(shift_batch(x[idx], g)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    digits = load_digits()
    images = digits.images.astype(np.uint8)  # 0..16
    labels = digits.target.astype(np.uint8)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=0.2, stratify=labels, random_state=SPLIT_SEED)
    fit_idx, val_idx = train_test_split(train_idx, test_size=0.3, stratify=labels[train_idx], random_state=VAL_SEED)
    split = np.zeros(len(labels), dtype=np.uint8)
    split[val_idx] = SPLIT_VAL
    split[test_idx] = SPLIT_TEST
    os.makedirs(OUT, exist_ok=True)

    # digits.bin, read by include/primsel/select/labelled_set.hpp: "PSIMAGES", version, count, channels, height,
    # width, max value, then per image (original order): part, label, 64 pixels row-major.
    with open(os.path.join(OUT, "digits.bin"), "wb") as f:
        f.write(b"PSIMAGES")
        f.write(struct.pack("<6I", 1, len(labels), 1, 8, 8, 16))
        for i in range(len(labels)):
            f.write(bytes([split[i], labels[i]]))
            f.write(images[i].reshape(64).tobytes())

    def tensors(ids):
        x = torch.tensor(images[ids].reshape(-1, 1, 8, 8), dtype=torch.float32) / 16.0
        return x, torch.tensor(labels[ids], dtype=torch.int64)
    xf, yf = tensors(np.sort(fit_idx))
    xv, yv = tensors(np.sort(val_idx))
    xt, yt = tensors(np.sort(test_idx))
    lines = ["# name macs params acc_fit acc_val acc_test   (torch float32, tools/digits/train_digits.py)"]
    only = sys.argv[1:] or MODELS
    for name in only:
        model = train(name, xf, yf)
        row = (name, macs(model), sum(p.numel() for p in model.parameters()),
               accuracy(model, xf, yf), accuracy(model, xv, yv), accuracy(model, xt, yt))
        print("%-6s macs %9d params %7d  fit %.4f val %.4f test %.4f" % row, flush=True)
        lines.append("%s %d %d %.4f %.4f %.4f" % row)
        path = os.path.join(OUT, name + ".onnx")
        torch.onnx.export(model, torch.zeros(1, 1, 8, 8), path, opset_version=13, input_names=["image"],
                          output_names=["logits"], do_constant_folding=True)
    if only == MODELS:
        with open(os.path.join(OUT, "models.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
