"""The Python binding (python/jf): values equal `jf shard cat`, mixes equal `jf shard mix --stream`,
a torch DataLoader with 2 workers over a simulated world of 4 ranks reads every sample once per
epoch, resumption from a state dict equals an uninterrupted run, and bad input from Python raises
jf.Error subclasses (never crashes). Usage: test_binding.py BUILD_DIR"""
import base64
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.path.abspath(sys.argv.pop(1))
sys.path.insert(0, os.path.join(BUILD, "python"))
import jf  # noqa: E402
import numpy as np  # noqa: E402

JF = os.path.join(BUILD, "cli", "jf")
WORK = tempfile.mkdtemp(prefix="jf-py-")
DS = os.path.join(WORK, "demo", "dataset")


def run(*args, check=True):
    p = subprocess.run([JF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise AssertionError("jf %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p


def setUpModule():
    run("demo", "--dir", os.path.join(WORK, "demo"), "--data-only", "--quiet")


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


ALL_MIX = {"seed": 7, "global_batch": 10,
           "sources": [{"name": "all", "where": "1"}],
           "stages": [{"name": "one", "steps": 30, "weights": {"all": 1}}]}


class Values(unittest.TestCase):
    def test_samples_equal_shard_cat(self):
        ds = jf.Dataset(DS, images="bytes", index_columns=False)
        ids = list(ds.sample_ids)
        self.assertEqual(len(ds), int(ds.sql("SELECT count(*) FROM samples")[0][0]))
        out = run("shard", "cat", DS, "--row", *[str(i) for i in ids], "--json").stdout.decode().splitlines()
        self.assertEqual(len(out), len(ids))
        images = 0
        for line, i in zip(out, ids):
            ref = json.loads(line)
            got = ds.get_id(i)
            self.assertEqual(got["key"], ref["key"])
            self.assertEqual(got["kind"], ref["kind"])
            self.assertEqual(got["id"], ref["id"])
            for k, v in ref["columns"].items():
                if isinstance(v, float):
                    self.assertAlmostEqual(got[k], v, places=12, msg=k)
                else:
                    self.assertEqual(got[k], v, k)
            for name, f in ref["fields"].items():
                if f["type"] == "text":
                    self.assertEqual(got[name], f["text"])
                elif f["type"] == "json":
                    self.assertEqual(got[name], json.loads(f["text"]))
                elif f["type"] == "image":
                    raw = run("shard", "cat", DS, ref["key"], "--field", name).stdout
                    self.assertIsInstance(got[name], memoryview)
                    self.assertTrue(got[name].readonly)
                    self.assertEqual(got[name].tobytes(), raw)
                    images += 1
        self.assertGreater(images, 50)

    def test_get_by_key_and_index_columns(self):
        ds = jf.Dataset(DS)
        key = ds.sql("SELECT key FROM samples WHERE kind='generation' ORDER BY id LIMIT 1")[0][0]
        s = ds.get(key)
        self.assertEqual(s["key"], key)
        self.assertEqual(s["jpg"].shape, (s["height"], s["width"], 3))
        self.assertEqual(s["jpg"].dtype, np.uint8)
        self.assertFalse(s["jpg"].flags.writeable)  # a view of jf's buffer, not a copy
        with self.assertRaises(KeyError):  # jf.NotFoundError is also a KeyError
            ds.get("no/such/key")

    def test_decode_equals_pil(self):
        from PIL import Image
        ds = jf.Dataset(DS, images="bytes")
        n = 0
        for i in list(ds.sample_ids)[:40]:
            s = ds.get_id(i)
            if "jpg" not in s:
                continue
            raw = s["jpg"].tobytes()
            ref = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
            got = jf.decode_image(raw)
            self.assertTrue(np.array_equal(got, ref), s["key"])
            n += 1
        self.assertGreater(n, 10)

    def test_letterbox(self):
        ds = jf.Dataset(DS, image_size=jf.JANUS_IMAGE_SIZE)
        key = ds.sql("SELECT key FROM samples WHERE kind='generation' AND height > width * 1.5 LIMIT 1")[0][0]
        img = ds.get(key)["jpg"]
        self.assertEqual(img.shape, (384, 384, 3))
        # a tall image is padded left and right with the processor's background (127)
        self.assertTrue((img[:, 0] == 127).all() and (img[:, -1] == 127).all())

    def test_subset(self):
        n = int(jf.Dataset(DS).sql("SELECT count FROM subsets WHERE name='gen_clean'")[0][0])
        self.assertEqual(len(jf.Dataset(DS + "/#gen_clean")), n)
        self.assertEqual(len(jf.Dataset(DS, subset="gen_clean")), n)
        with self.assertRaises(jf.NotFoundError):
            len(jf.Dataset(DS + "#nope"))


def cli_stream(mix_path, rank, world, worker, workers, start=0, end=0):
    args = ["shard", "mix", DS, mix_path, "--stream", "--rank", str(rank), "--world", str(world),
            "--worker", str(worker), "--workers", str(workers)]
    if start:
        args += ["--start-step", str(start)]
    if end:
        args += ["--end-step", str(end)]
    return [json.loads(l) for l in run(*args).stdout.decode().splitlines()]


class Mixes(unittest.TestCase):
    def test_items_equal_cli_stream(self):
        mix_path = os.path.join(WORK, "demo", "mix.json")
        for rank in range(4):
            for worker in range(2):
                mix = jf.Mix(DS, mix_path, rank=rank, world=4, start_step=3, end_step=40)
                got = [(s["step"], s["pos"], s["source"], s["id"], s["key"], s["epoch"], s["pad"])
                       for s in self._iter_worker(mix, worker, 2)]
                ref = [(r["step"], r["pos"], r["source"], r["id"], r["key"], r["epoch"], r["pad"])
                       for r in cli_stream(mix_path, rank, 4, worker, 2, 3, 40)]
                self.assertEqual(got, ref, (rank, worker))
                self.assertGreater(len(got), 0)

    @staticmethod
    def _iter_worker(mix, worker, workers):
        names = [s["name"] for s in mix.info["sources"]]
        for step, pos, src, sid, epoch, draw, pad in mix.items(worker, workers):
            s = mix.dataset.get_id(sid)
            s.update(step=step, pos=pos, source=names[src], epoch=epoch, pad=pad)
            yield s

    def _loader(self, mix, workers=2):
        import torch.utils.data as tud
        return tud.DataLoader(mix, batch_size=mix.per_rank_batch, num_workers=workers,
                              collate_fn=lambda b: [(s["step"], s["pos"], s["id"], s["epoch"], s["pad"]) for s in b])

    def test_dataloader_world_of_4_reads_every_sample_once_per_epoch(self):
        seen = {}
        n = len(jf.Dataset(DS))
        for rank in range(4):
            mix = jf.Mix(DS, ALL_MIX, rank=rank, world=4, images="none")
            steps = []
            for batch in self._loader(mix):
                self.assertEqual(len({b[0] for b in batch}), 1)  # one DataLoader batch is one step
                steps.append(batch[0][0])
                for step, pos, sid, epoch, pad in batch:
                    if not pad:
                        seen.setdefault(epoch, []).append(sid)
            self.assertEqual(steps, list(range(30)))  # the two workers' batches arrive in step order
        self.assertEqual(sorted(seen[0]), sorted(jf.Dataset(DS).sample_ids))
        self.assertEqual(len(seen[0]), n)
        self.assertEqual(sorted(seen[1]), sorted(jf.Dataset(DS).sample_ids))

    def test_resume_equals_uninterrupted(self):
        mix = jf.Mix(DS, ALL_MIX, rank=1, world=4, images="none")
        whole = [x for b in self._loader(mix) for x in b]
        # interrupted after 7 steps; the training loop knows the last step it saw
        mix = jf.Mix(DS, ALL_MIX, rank=1, world=4, images="none")
        first = []
        for b in self._loader(mix):
            first += b
            if b[0][0] == 6:
                break
        state = json.loads(json.dumps(mix.state_dict(next_step=first[-1][0] + 1)))  # survives a checkpoint file
        again = jf.Mix(DS, ALL_MIX, rank=1, world=4, images="none", state=state)
        rest = [x for b in self._loader(again) for x in b]
        self.assertEqual(first + rest, whole)
        # in-process iteration tracks the step itself
        mix = jf.Mix(DS, ALL_MIX, rank=1, world=4, images="none")
        it = iter(mix)
        got = [next(it) for _ in range(3 * mix.per_rank_batch + 1)]  # three whole steps and one item
        state = mix.state_dict()
        self.assertEqual(state["next_step"], 3)
        mix2 = jf.Mix(DS, ALL_MIX, rank=1, world=4, images="none")
        mix2.load_state_dict(state)
        self.assertEqual([s["id"] for s in got[:3 * mix.per_rank_batch]] + [s["id"] for s in mix2],
                         [w[2] for w in whole])
        other = dict(ALL_MIX, seed=8)
        with self.assertRaises(jf.ArgumentError):
            jf.Mix(DS, other, state=state)

    def test_transform_and_rank_from_torch_distributed(self):
        import torch.distributed as dist
        mix = jf.Mix(DS, ALL_MIX, transform=lambda s: s["key"], images="none", end_step=2)
        self.assertEqual(len(list(mix)), 20)
        self.assertTrue(all(isinstance(k, str) for k in mix))
        if dist.is_available():
            os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 1000))
            dist.init_process_group("gloo", rank=0, world_size=1)
            try:
                self.assertEqual(jf.Mix(DS, ALL_MIX)._slice(), (0, 1))
            finally:
                dist.destroy_process_group()


class BadInput(unittest.TestCase):
    def test_wrong_types_and_closed_objects(self):
        for call, exc in [
            (lambda: jf.Dataset(123), TypeError),
            (lambda: jf.Dataset(os.path.join(WORK, "missing")), jf.Error),
            (lambda: jf.Dataset(DS, images="png"), jf.ArgumentError),
            (lambda: jf.Dataset(DS)["0"], TypeError),
            (lambda: jf.Dataset(DS)[10 ** 9], IndexError),
            (lambda: jf.Dataset(DS).get(5), TypeError),
            (lambda: jf.Dataset(DS).get_id(10 ** 12), jf.NotFoundError),
            (lambda: jf.Dataset(DS).sql("DELETE FROM samples"), jf.ArgumentError),
            (lambda: jf.Dataset(DS).sql("SELECT 1; SELECT 2"), jf.ArgumentError),
            (lambda: jf.Dataset(DS).sql("SELECT ?", (object(),)), TypeError),
            (lambda: jf.Mix(DS, '{"seed": 1, "sources": ['), jf.Error),
            (lambda: jf.Mix(DS, {"global_batch": 4, "sources": [{"name": "x", "where": "nonsense_col > 1"}],
                                 "stages": [{"steps": 2, "weights": {"x": 1}}]}), jf.ArgumentError),
            (lambda: jf.Mix(DS, ALL_MIX, start_step=10 ** 6).items().__next__(), jf.Error),
            (lambda: jf.decode_image(b"\xff\xd8\xff\xe0garbage"), jf.Error),
            (lambda: jf.decode_image(b""), jf.Error),
            (lambda: jf.decode_image("text"), TypeError),
            (lambda: jf.decode_image(b"x", size=-1), jf.ArgumentError),
            (lambda: jf._jf.Store(), TypeError),
            (lambda: jf._jf.Mix(None, "{}"), TypeError),
            (lambda: jf._jf.Mix.__new__(jf._jf.Mix).info(), jf.ArgumentError),
            (lambda: jf._jf.Mix.__new__(jf._jf.Mix).iter(), jf.ArgumentError),
            (lambda: jf._jf.Store.__new__(jf._jf.Store).ids(), jf.ArgumentError),
        ]:
            with self.assertRaises(exc):
                call()
        ds = jf.Dataset(DS)
        ds.close()
        for call in (lambda: ds.get("x"), lambda: ds.get_id(1), lambda: ds.sql("SELECT 1"), lambda: ds.sample_ids):
            with self.assertRaises(jf.ArgumentError):
                call()
        ds.close()  # twice is fine
        with self.assertRaises(TypeError):  # views are read-only
            memoryview(jf.Dataset(DS, images="bytes").get_id(1)["jpg"].obj).cast("B")[0:1] = b"x"

    def test_views_outlive_their_dataset(self):
        ds = jf.Dataset(DS)
        s = ds[0]
        ds.close()
        del ds
        self.assertEqual(int(s["jpg"].sum()) >= 0, True)  # the pixels are still valid memory

    def test_corrupt_record_names_file_and_offset(self):
        bad = os.path.join(WORK, "corrupt")
        shutil.copytree(DS, bad)
        ds = jf.Dataset(bad, images="bytes")
        row = ds.sql("SELECT s.id, s.offset, s.length, h.path FROM samples s JOIN shards h ON h.id = s.shard_id "
                     "WHERE s.kind = 'generation' ORDER BY s.id LIMIT 1")[0]
        sid, off, length, path = row
        ds.close()
        shard = os.path.join(bad, path)
        with open(shard, "r+b") as f:
            f.seek(off + length - 20)
            b = f.read(1)
            f.seek(off + length - 20)
            f.write(bytes([b[0] ^ 0xFF]))
        ds = jf.Dataset(bad)
        with self.assertRaises(jf.CorruptError) as cm:
            ds.get_id(sid)
        msg = str(cm.exception)
        self.assertIn(os.path.basename(path), msg)
        self.assertIn(str(off), msg)
        self.assertEqual(cm.exception.status, "corrupt data")
        ds.get_id(sid + 1)  # the other samples still read

    def test_random_calls_never_crash(self):
        rnd = random.Random(1)
        ds = jf.Dataset(DS)
        values = [None, 0, -1, 2 ** 70, 1.5, "", "x" * 5000, b"\x00" * 3, b"\xff\xd8\xff", [], {}, (1, 2), object(),
                  ds, DS, "laion/000000001", float("nan")]
        calls = [ds.get, ds.get_id, ds.__getitem__, ds.record, ds.sql, jf.decode_image, jf._jf.Store, jf.Dataset,
                 lambda a, b: jf.Mix(ds, a, rank=b), lambda a, b: jf.decode_image(a, size=b),
                 lambda a, b: jf.Dataset(DS, images=a, image_size=b)]
        errors = 0
        for _ in range(3000):
            f = rnd.choice(calls)
            n = rnd.randint(1, 2)
            args = [rnd.choice(values) for _ in range(n)]
            try:
                f(*args)
            except (jf.Error, TypeError, ValueError, KeyError, IndexError, OverflowError, OSError):
                errors += 1
        self.assertGreater(errors, 1000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
