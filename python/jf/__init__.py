"""jf for Python: read jf datasets and stream training mixes into PyTorch.

    import jf
    ds = jf.Dataset("data/ds")              # or "data/ds/#subset"
    len(ds); ds[0]; ds.get("laion/000000017")
    mix = jf.Mix(ds, "mix.json")             # a torch IterableDataset (rank/world from torch.distributed,
    loader = torch.utils.data.DataLoader(    # worker id/count from the DataLoader)
        mix, batch_size=mix.per_rank_batch, num_workers=2)
    state = mix.state_dict(next_step=...)    # resume mid-epoch: jf.Mix(..., state=state) or load_state_dict

A sample is a dict: "key", "kind", "id", the index columns the record carries (width, height,
caption_len, aesthetic, ...) as Python values, and one entry per field: images as numpy arrays
(H, W, 3) uint8 decoded by jf (or letterboxed to `image_size` as the JanusFlow/SigLIP processor
does), `txt` as str, JSON fields parsed, `cls` as int, other bytes as a read-only memoryview.

Copies: a sample's fields are views of the record jf read and verified (one decompression, no
further copy): `memoryview`s for bytes, and numpy arrays made with `numpy.frombuffer` over pixels
jf decoded. With `images="bytes"` an image field is a memoryview of the encoded file, again
without a copy. Text (`str`) and parsed JSON are Python objects, so they are copies.

Errors raise jf.Error subclasses with the C library's message (file and byte offset included):
CorruptError (checksums), TruncatedError, FormatError, NotFoundError (also a KeyError),
ArgumentError (also a ValueError), IOError (also an OSError), DatabaseError, ...
"""

import json as _json
import os as _os

from . import _jf
from ._jf import (Error, ArgumentError, IOError, NoSpaceError, CorruptError, TruncatedError, FormatError,  # noqa: F401
                  NoMemoryError, DatabaseError, NotFoundError, ExistsError, LimitError, InterruptedError)

__all__ = ["Dataset", "Mix", "batches", "Error", "ArgumentError", "IOError", "NoSpaceError", "CorruptError", "TruncatedError",
           "FormatError", "NoMemoryError", "DatabaseError", "NotFoundError", "ExistsError", "LimitError",
           "InterruptedError", "decode_image"]

try:
    import numpy as _np
except ImportError:  # numpy is needed only for decoded images
    _np = None

try:
    import torch.utils.data as _tud
    _IterableBase = _tud.IterableDataset
except ImportError:  # without torch, Mix is a plain iterable
    _tud = None
    _IterableBase = object

# JanusFlow's SigLIP processor: 384 x 384, long side resized (bicubic), centred on the image mean
# (0.5 x 255, truncated as the processor does), sides at least 14 pixels.
JANUS_IMAGE_SIZE = 384
JANUS_BACKGROUND = (127, 127, 127)


def decode_image(data, size=0, min_side=14, background=JANUS_BACKGROUND, name="image"):
    """Decodes JPEG/PNG/WebP bytes to an (H, W, 3) uint8 numpy array (a view of jf's buffer).
    With size > 0 the image is letterboxed to size x size (the JanusFlow processor's resize and pad)."""
    if _np is None:
        raise ArgumentError("decoding images needs numpy")
    view, h, w = _jf.decode_image(data, size, min_side, tuple(background), name)
    return _np.frombuffer(view, dtype=_np.uint8).reshape(h, w, 3)


def _split_subset(path):
    path = _os.fspath(path)
    if "#" in path:
        base, subset = path.rsplit("#", 1)
        return base.rstrip("/") or "/", subset or None
    return path, None


class Dataset:
    """A jf dataset folder (or `folder/#subset`), read-only.

    images: "array" (decode to numpy, default), "bytes" (the encoded file as a memoryview) or
    "none" (leave image fields out). image_size: letterbox decoded images to this square
    (e.g. jf.JANUS_IMAGE_SIZE); 0 keeps the decoded size. index_columns: also give the columns
    only the index holds (added by jf filter: scores, CLIP score, language); one more query a sample."""

    def __init__(self, path, images="array", image_size=0, background=JANUS_BACKGROUND, subset=None,
                 index_columns=True):
        base, sub = _split_subset(path)
        if images not in ("array", "bytes", "none"):
            raise ArgumentError("images must be 'array', 'bytes' or 'none', not %r" % (images,))
        if not isinstance(image_size, int) or image_size < 0:
            raise ArgumentError("image_size must be an int >= 0")
        self.path = base
        self.subset = subset if subset is not None else sub
        self.images = images
        self.image_size = image_size
        self.background = tuple(background)
        self.index_columns = bool(index_columns)
        self._store = _jf.Store(base)
        self._ids = None

    # -- ids --
    @property
    def sample_ids(self):
        """Row ids of the samples (of the subset, if any), in id order, as a memoryview of int64."""
        if self._ids is None:
            self._ids = memoryview(self._store.ids(self.subset)).cast("q")
        return self._ids

    def __len__(self):
        return len(self.sample_ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not isinstance(i, int):
            raise TypeError("dataset index must be an int or a slice, not %s" % type(i).__name__)
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("sample index %d out of range (%d samples)" % (i, n))
        return self._sample(self._store.get_row(self.sample_ids[i]))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def get(self, key):
        """The sample with this key (the first one, if several share it); NotFoundError if none."""
        if not isinstance(key, str):
            raise TypeError("key must be a str")
        return self._sample(self._store.get_key(key))

    def get_id(self, sample_id):
        """The sample with this row id (as mixes and `jf shard mix --stream` name them)."""
        return self._sample(self._store.get_row(int(sample_id)))

    def record(self, key_or_id):
        """The low-level record (fields as views, columns): no decoding at all."""
        if isinstance(key_or_id, str):
            return self._store.get_key(key_or_id)
        return self._store.get_row(int(key_or_id))

    def sql(self, query, params=()):
        """A read-only query over the index (one statement): list of tuples."""
        return self._store.sql(query, tuple(params))

    def close(self):
        self._store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "jf.Dataset(%r%s)" % (self.path, ", subset=%r" % self.subset if self.subset else "")

    # -- samples --
    def _sample(self, rec):
        out = {"key": rec.key, "kind": rec.kind, "id": rec.id}
        out.update(rec.columns())
        if self.index_columns:  # columns added after ingest (filter scores, CLIP score) are in the index only
            for k, v in self._store.index_row(rec.id).items():
                if v is not None:  # NULL: the column is another source's (mask_count of SA-1B, ...)
                    out.setdefault(k, v)
        for name, ftype, view in rec.fields():
            if ftype == "image":
                if self.images == "none":
                    continue
                if self.images == "bytes":
                    out[name] = memoryview(view)
                else:
                    out[name] = decode_image(view, self.image_size, 14, self.background,
                                             "%s: sample '%s' field '%s'" % (self.path, rec.key, name))
            elif ftype == "text":
                out[name] = bytes(view).decode("utf-8", "replace")
            elif ftype == "json":
                try:
                    out[name] = _json.loads(bytes(view))
                except ValueError as e:
                    raise CorruptError("%s: sample '%s' field '%s' is not valid JSON: %s" % (self.path, rec.key, name, e))
            elif ftype == "int":
                try:
                    out[name] = int(bytes(view).strip() or b"0")
                except ValueError:
                    out[name] = memoryview(view)
            else:
                out[name] = memoryview(view)
        return out


def _dist_rank_world():
    if _tud is not None:
        try:
            import torch.distributed as dist
            if dist.is_available() and dist.is_initialized():
                return dist.get_rank(), dist.get_world_size()
        except ImportError:
            pass
    return 0, 1


class Mix(_IterableBase):
    """A training mix (shards/MIX.md) as a torch IterableDataset.

    Yields, for this rank and DataLoader worker, exactly the items `jf shard mix --stream` gives
    for the same slice, in the same order, each as the sample dict with the mix fields added:
    "step", "pos", "source" (name), "epoch", "draw", "pad" (a repeat filling an uneven split).
    rank/world default to torch.distributed's when it is initialised (else 0/1); the worker id and
    count come from torch.utils.data.get_worker_info(). Use batch_size=mix.per_rank_batch so that
    one DataLoader batch is one step: with several workers, worker k yields steps S+k, S+k+n, ...
    and the DataLoader's round-robin order gives the steps in order.

    Resumption is step-based, as in the CLI: state_dict(next_step) gives the point to restart
    from (every sample carries its "step"; in-process iteration tracks it itself) and
    load_state_dict(state) (or Mix(..., state=state)) restarts there, refusing a state made with
    another mix or dataset (the mix fingerprint covers both)."""

    def __init__(self, dataset, mix, rank=None, world=None, transform=None, start_step=0, end_step=0, state=None,
                 **dataset_kw):
        if isinstance(dataset, Dataset):
            self.dataset = dataset
        else:
            self.dataset = Dataset(dataset, **dataset_kw)
        if isinstance(mix, dict):
            text = _json.dumps(mix)
        else:
            mix = _os.fspath(mix)
            if mix.lstrip().startswith("{"):
                text = mix
            else:
                with open(mix, "r", encoding="utf-8") as f:
                    text = f.read()
        self._mix_text = text
        self._mix = _jf.Mix(self.dataset._store, text)
        self._mix_pid = _os.getpid()
        self.info = self._mix.info()
        self.rank, self.world = rank, world
        self.transform = transform
        self.start_step = int(start_step)
        self.end_step = int(end_step)
        self._next_step = self.start_step
        if state is not None:
            self.load_state_dict(state)

    @property
    def steps(self):
        return self.info["steps"]

    @property
    def global_batch(self):
        return self.info["global_batch"]

    def _slice(self):
        rank, world = _dist_rank_world()
        if self.rank is not None:
            rank = self.rank
        if self.world is not None:
            world = self.world
        return rank, world

    @property
    def per_rank_batch(self):
        """Items a rank receives at each step: ceil(global_batch / world)."""
        _, world = self._slice()
        return -(-self.global_batch // world)

    def _c_mix(self):
        if self._mix_pid != _os.getpid():  # a forked DataLoader worker resolves its own copy
            self._mix = _jf.Mix(self.dataset._store, self._mix_text)
            self._mix_pid = _os.getpid()
        return self._mix

    def items(self, worker=0, num_workers=1):
        """The raw items (step, pos, source, sample_id, epoch, draw, pad) of this rank's slice."""
        rank, world = self._slice()
        return self._c_mix().iter(rank, world, worker, num_workers, self.start_step, self.end_step)

    def __iter__(self):
        worker, num_workers = 0, 1
        if _tud is not None:
            wi = _tud.get_worker_info()
            if wi is not None:
                worker, num_workers = wi.id, wi.num_workers
        names = [s["name"] for s in self.info["sources"]]
        per = self.per_rank_batch
        in_step = 0
        for step, pos, source, sid, epoch, draw, pad in self.items(worker, num_workers):
            s = self.dataset.get_id(sid)
            s.update(step=step, pos=pos, source=names[source], epoch=epoch, draw=draw, pad=pad)
            in_step += 1
            if num_workers == 1:
                # handing out the step's last item completes it (the consumer has the whole batch)
                self._next_step = step + 1 if in_step == per else step
            if in_step == per:
                in_step = 0
            yield self.transform(s) if self.transform else s

    def state_dict(self, next_step=None):
        """The resume point: the first step not yet trained on. With DataLoader workers the main
        process cannot see the workers' progress: pass next_step (the last batch's step + 1)."""
        step = self._next_step if next_step is None else int(next_step)
        return {"format": "jf.mix/1", "next_step": step, "fingerprint": self.info["fingerprint"],
                "global_batch": self.global_batch, "steps": self.steps}

    def load_state_dict(self, state):
        if not isinstance(state, dict) or state.get("format") != "jf.mix/1":
            raise ArgumentError("not a jf.Mix state dict: %r" % (state,))
        if state.get("fingerprint") != self.info["fingerprint"]:
            raise ArgumentError("state of another mix or dataset: fingerprint %s, this mix is %s"
                                % (state.get("fingerprint"), self.info["fingerprint"]))
        step = int(state["next_step"])
        if not 0 <= step <= self.steps:
            raise ArgumentError("state step %d is outside the schedule (%d steps)" % (step, self.steps))
        self.start_step = step
        self._next_step = step

    def __len__(self):
        """Items this rank receives over the slice (all workers together)."""
        end = self.end_step or self.steps
        return max(0, end - self.start_step) * self.per_rank_batch

    def __repr__(self):
        return "jf.Mix(%r, %d steps x %d, fingerprint %s)" % (self.dataset.path, self.steps, self.global_batch,
                                                            self.info["fingerprint"])


def batches(dataset, mix, model, vae=None, latents=None, rank=0, world=1, start_step=0, end_step=0, pack=False,
            seq_len=0, prompt_drop=None, refuse_overlong=False, latent_mean=False, threads=0, roles=None,
            gen_resample=None, as_torch=False):
    """The training batches of a mix's steps for one rank, exactly as `jf train batches` writes them
    (the same .npz bytes; array names in train/BATCHES.md): a generator of dicts of numpy arrays
    (torch tensors with as_torch=True), plus "info": the batch's step, the outcome counts, each
    sample that was not usable with its reason, and where the generation latents came from.

    model: the JanusFlow folder (tokenizer, processor, grid); vae: the SDXL-VAE folder (latents
    encoded here) or None; latents: a dataset of stored latents (jf shard encode-latents);
    roles: {mix source name: "und" | "caption" | "gen" | "text"}; gen_resample: the generation
    crop's resize filter ("bilinear" default, "bicubic", "lanczos", "box"). start_step/end_step resume
    and bound the slice (end 0: the schedule's end)."""
    if _np is None:
        raise ArgumentError("jf.batches needs numpy")
    import io as _io
    ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset, images="none")
    m = Mix(ds, mix, rank=rank, world=world)
    it = _jf.Batches(m._mix, _os.fspath(model), None if vae is None else _os.fspath(vae),
                     None if latents is None else _os.fspath(latents), rank, world, start_step, end_step, bool(pack),
                     seq_len, -1.0 if prompt_drop is None else float(prompt_drop), bool(refuse_overlong),
                     bool(latent_mean), threads, roles, gen_resample)
    if as_torch:
        import torch as _torch
    for step, npz, info in it:
        with _np.load(_io.BytesIO(npz)) as z:
            out = {k: z[k] for k in z.files}
        if as_torch:
            out = {k: _torch.from_numpy(v) for k, v in out.items()}
        info["step"] = step  # (the "step" array holds each sample's step)
        out["info"] = info
        yield out
