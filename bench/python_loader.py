"""Samples/s through a torch DataLoader (2 workers): jf.Mix over a jf dataset vs WebDataset-style
reading of the same samples exported as tars (tarfile + PIL, tars split across workers), and
jf.Dataset used map-style. Every path decodes each image to an HWC uint8 numpy array.
usage: python_loader.py BUILD DATASET TAR_GLOB N_SAMPLES"""
import glob
import io
import json
import sys
import tarfile
import time

sys.path.insert(0, sys.argv[1] + "/python")
import jf  # noqa: E402
import numpy as np  # noqa: E402
import torch.utils.data as tud  # noqa: E402
from PIL import Image  # noqa: E402

ds_path, tar_glob, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
BATCH = 16


class TarSamples(tud.IterableDataset):
    """What webdataset does at its core: members grouped by key, image decoded by PIL."""

    def __init__(self, tars):
        self.tars = tars

    def __iter__(self):
        wi = tud.get_worker_info()
        mine = self.tars[wi.id::wi.num_workers] if wi else self.tars
        for path in mine:
            with tarfile.open(path) as t:
                cur, sample = None, {}
                for m in t:
                    if not m.isfile():
                        continue
                    base = m.name.rsplit("/", 1)[-1]
                    key = m.name[:len(m.name) - len(base)] + base.split(".", 1)[0]
                    ext = base.split(".", 1)[1]
                    if key != cur and sample:
                        yield self.decode(sample)
                        sample = {}
                    cur = key
                    sample[ext] = t.extractfile(m).read()
                if sample:
                    yield self.decode(sample)

    @staticmethod
    def decode(s):
        return {"jpg": np.asarray(Image.open(io.BytesIO(s["jpg"])).convert("RGB")), "txt": s.get("txt", b"").decode()}


def collate(batch):
    return len(batch), sum(int(s["jpg"].shape[0]) for s in batch)


def rate(dataset, **kw):
    loader = tud.DataLoader(dataset, batch_size=BATCH, num_workers=2, collate_fn=collate, **kw)
    t0 = time.perf_counter()
    count = sum(c for c, _ in loader)
    return count, count / (time.perf_counter() - t0)


steps = n // BATCH
mix = {"seed": 1, "global_batch": BATCH, "sources": [{"name": "all", "where": "kind = 'generation'"}],
       "stages": [{"steps": steps, "weights": {"all": 1}}]}
c_mix, r_mix = rate(jf.Mix(ds_path, mix))
c_map, r_map = rate(jf.Dataset(ds_path), shuffle=False)
c_tar, r_tar = rate(TarSamples(sorted(glob.glob(tar_glob))))
# one process, no DataLoader: the binding's own cost over the decode
t0 = time.perf_counter()
c_one = sum(1 for _ in jf.Mix(ds_path, mix))
r_one = c_one / (time.perf_counter() - t0)
t0 = time.perf_counter()
c_tar1 = sum(1 for _ in TarSamples(sorted(glob.glob(tar_glob))))
r_tar1 = c_tar1 / (time.perf_counter() - t0)
print(json.dumps({"jf_mix": r_mix, "jf_dataset": r_map, "tar_pil": r_tar, "jf_mix_1": r_one, "tar_pil_1": r_tar1,
                  "samples": [c_mix, c_map, c_tar, c_one, c_tar1]}))
