#!/usr/bin/python3
"""Trains a small CNN on scikit-learn's digits and writes the edge agent's fixtures.

Run with Debian's interpreter (python3-torch, python3-sklearn, python3-onnx, python3-numpy):
    /usr/bin/python3 scripts/make-digits-fixtures.py
The outputs are committed, so the tests need none of these packages:

  test/fixtures/digits/cnn.onnx              the model, for ONNX Runtime
  test/fixtures/digits/cnn-pruned.onnx       the same model with 75% of its weights pruned:
                                             a degraded variant whose accuracy is really lower
  test/fixtures/digits/model.tar.gz          the traced PyTorch model as Neo expects it (model.pth)
  test/fixtures/digits/validation/           held-out set: inputs.npy, labels.npy, reference.npy
                                             (the PyTorch model's own outputs), dataset.json
"""
import io
import json
import os
import tarfile

import numpy as np
import onnx
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'digits')
torch.manual_seed(0)
np.random.seed(0)


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        )
        self.classifier = torch.nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, path):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), path, input_names=['pixels'], output_names=['logits'],
                      opset_version=13, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def main():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = digits.target.astype(np.int64)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, random_state=42, stratify=y)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = DigitsCnn()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(40):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    os.makedirs(os.path.join(OUT, 'validation'), exist_ok=True)
    export(model, os.path.join(OUT, 'cnn.onnx'))

    # The degraded variant: keep only the largest 25% of each layer's weights.
    pruned = DigitsCnn()
    pruned.load_state_dict(model.state_dict())
    with torch.no_grad():
        for module in pruned.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                w = module.weight
                threshold = w.abs().flatten().kthvalue(int(w.numel() * 0.75)).values
                w.mul_((w.abs() > threshold).float())
    pruned.eval()
    export(pruned, os.path.join(OUT, 'cnn-pruned.onnx'))

    # Neo's PyTorch input: a traced model saved as model.pth in a .tar.gz.
    traced = torch.jit.trace(model, torch.zeros(1, 1, 8, 8))
    buf = io.BytesIO()
    torch.jit.save(traced, buf)
    with tarfile.open(os.path.join(OUT, 'model.tar.gz'), 'w:gz') as tar:
        info = tarfile.TarInfo('model.pth')
        info.size = len(buf.getvalue())
        info.mtime = 0
        tar.addfile(info, io.BytesIO(buf.getvalue()))

    with torch.no_grad():
        reference = model(xv).numpy().astype(np.float32)
    np.save(os.path.join(OUT, 'validation', 'inputs.npy'), x_val)
    np.save(os.path.join(OUT, 'validation', 'labels.npy'), y_val)
    np.save(os.path.join(OUT, 'validation', 'reference.npy'), reference)
    with open(os.path.join(OUT, 'validation', 'dataset.json'), 'w') as f:
        json.dump({
            'schemaVersion': 1,
            'name': 'sklearn-digits-holdout',
            'inputs': {'pixels': 'inputs.npy'},
            'labels': 'labels.npy',
            'referenceOutputs': 'reference.npy',
            'labelNames': [str(i) for i in range(10)],
            'layout': 'NCHW',
            'preprocessing': 'pixel / 16, as float32 (already applied)',
        }, f, indent=2)
        f.write('\n')
    print(f'validation samples: {len(y_val)}')
    print(f'accuracy (PyTorch): model {accuracy(model, xv, yv):.4f}, pruned {accuracy(pruned, xv, yv):.4f}')


if __name__ == '__main__':
    main()
