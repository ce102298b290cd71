#!/usr/bin/python3
"""Generate PyTorch reference fixtures for the nn tests (tests/fixtures/*.safetensors).

Run with Debian's python3-torch: /usr/bin/python3 tools/make_fixtures.py
CI never runs this; it only reads the committed outputs.

For each case it writes two safetensors files:
  <case>.model.safetensors  the weights, named as the nn.Sequential state_dict, with "arch" and
                            "input" in __metadata__ (loadable by nn_model_load)
  <case>.io.safetensors     x [n,c,h,w], labels (as F32), logits, loss, and "grad.<param>" for
                            every parameter (mean cross-entropy, dropout off)
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_spec import build  # noqa: E402
from stio import write as write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def case(name, spec, in_shape, n, seed):
    torch.manual_seed(seed)
    model = build(spec, in_shape)
    with torch.no_grad():  # non-zero biases so bias handling is exercised
        for p in model.parameters():
            if p.dim() == 1:
                p.uniform_(-0.1, 0.1)
    model.eval()  # dropout off: the comparison is deterministic
    x = torch.rand(n, *in_shape)
    labels = torch.randint(0, 10, (n,))
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "arch": spec, "input": "x".join(map(str, in_shape))}
    write_safetensors(os.path.join(OUT, name + ".model.safetensors"), sd, meta)
    io = {"x": x.numpy(), "labels": labels.float().numpy(), "logits": logits.detach().numpy(),
          "loss": np.array([loss.item()], dtype=np.float32)}
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad.numpy()
    write_safetensors(os.path.join(OUT, name + ".io.safetensors"), io,
                      {"torch": torch.__version__, "spec": spec})
    print(f"{name}: {spec} on {n}x{in_shape}, loss {loss.item():.6f}")


def case_bn(name, spec, in_shape, n, seed):
    """Batch norm: logits in eval mode (random running statistics), then loss, gradients and the
    updated running statistics of one training-mode forward (batch statistics)."""
    torch.manual_seed(seed)
    model = build(spec, in_shape)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 2.0)
                mod.num_batches_tracked.fill_(7)
            elif isinstance(mod, nn.Linear) and mod.bias is not None:
                mod.bias.uniform_(-0.1, 0.1)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "arch": spec, "input": "x".join(map(str, in_shape))}
    write_safetensors(os.path.join(OUT, name + ".model.safetensors"), sd, meta)
    x = torch.rand(n, *in_shape)
    labels = torch.randint(0, 10, (n,))
    model.eval()
    logits = model(x).detach()
    model.train()
    logits_train = model(x)
    loss = nn.functional.cross_entropy(logits_train, labels, label_smoothing=0.1)
    loss.backward()
    io = {"x": x.numpy(), "labels": labels.float().numpy(), "logits": logits.numpy(),
          "logits_train": logits_train.detach().numpy(),
          "loss": np.array([loss.item()], dtype=np.float32)}
    for k, p in model.named_parameters():
        io["grad." + k] = p.grad.numpy()
    for k, v in model.state_dict().items():
        if "running" in k:
            io["after." + k] = v.numpy()
    write_safetensors(os.path.join(OUT, name + ".io.safetensors"), io,
                      {"torch": torch.__version__, "spec": spec, "label_smoothing": "0.1"})
    print(f"{name}: {spec} on {n}x{in_shape}, loss {loss.item():.6f}")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    case("small", "c4k3s-p2-c6k3-p2-f16-f10", (2, 12, 12), 5, 1)
    case("reference", "c32k3-p2-c64k3-p2-f128-d0.5-f10", (1, 28, 28), 4, 2)
    case_bn("bn", "c4k3b-p2-c6k3sb-f16b-f10", (2, 12, 12), 6, 3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
