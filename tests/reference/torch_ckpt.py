#!/usr/bin/python3
"""PyTorch checkpoints for jf's reader (model/torch_ckpt.c): the same state dict saved in the zip
container and in the legacy container, a checkpoint whose pickle would run os.system (must be
refused), and expected.json with every tensor's dtype, shape and values.

Usage: torch_ckpt.py OUT_DIR
"""
import collections
import json
import os
import sys

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
sd = collections.OrderedDict()
sd["conv.weight"] = torch.randn(4, 3, 3, 3)
sd["bn.running_mean"] = torch.randn(4)
sd["bn.num_batches_tracked"] = torch.tensor(7)          # a 0-d int64 tensor
sd["half"] = torch.randn(5, 2).half()
sd["bf"] = torch.randn(3).bfloat16()
sd["idx"] = torch.arange(6, dtype=torch.int64).reshape(2, 3)
big = torch.randn(10, 4)
sd["view"] = big[2:5]                                    # a contiguous view at a storage offset
sd["shared"] = big                                       # the same storage again
sd["nested"] = {"a": torch.ones(2), "b": {"c": torch.full((1, 2), 3.0)}}
sd["epoch"] = 12                                         # not a tensor: skipped
torch.save(sd, os.path.join(out, "zip.pth"))
torch.save(sd, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


torch.save({"w": torch.ones(2), "x": Evil()}, os.path.join(out, "evil.pth"))

expected = {}


def walk(d, prefix):
    for k, v in d.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            walk(v, name)
        elif torch.is_tensor(v):
            expected[name] = {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                                        torch.int64: "I64"}[v.dtype],
                              "shape": list(v.shape), "values": v.double().flatten().tolist()}


walk(sd, "")
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
