#!/usr/bin/python3
"""Reference numbers for jf's FID statistics, Fréchet distance, KID and .npz files
(eval/stats.c, eval/npz.c), computed the way the reference tools do:
  mu/sigma     np.mean(axis=0) / np.cov(rowvar=False) in float64 (pytorch-fid, clean-fid)
  FID          scipy.linalg.sqrtm(sigma1 @ sigma2) real part (pytorch-fid / clean-fid), and
               sum(sqrt(eigvals(sigma1 @ sigma2))) (torch-fidelity / torchmetrics)
  KID          torch-fidelity: RandomState(2020).choice(n, m, replace=False) for set 1 then set 2
               per subset, unbiased MMD² with (x·y/d + 1)³, mean and np.std (here in float64)

Usage: fid_ref.py OUT_DIR   → fid_golden.bin, stats_compressed.npz (np.savez_compressed, f8),
                               stats_stored_f4.npz (np.savez, f4), kid_feats.npz (feats)
Golden layout: b"JFFD", then 2 cases, each: u32 na, nb, d, kid_subsets, kid_size;
f32 a[na][d], f32 b[nb][d]; f64 mu_a[d], sigma_a[d][d] (first row only: d values),
fid_sqrtm, fid_eig, kid_mean, kid_std.
"""
import os
import struct
import sys
import warnings

import numpy as np
import scipy.linalg

warnings.simplefilter("ignore")


def fid_sqrtm(m1, s1, m2, s2):
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    d = m1 - m2
    return d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def fid_eig(m1, s1, m2, s2):
    ev = np.linalg.eigvals(s1 @ s2).astype(np.complex128)
    d = m1 - m2
    return d.dot(d) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(ev).real.sum()


def kid(f1, f2, subsets, size):
    rng = np.random.RandomState(2020)
    d = f1.shape[1]
    vals = []
    for _ in range(subsets):
        x = f1[rng.choice(len(f1), size, replace=False)].astype(np.float64)
        y = f2[rng.choice(len(f2), size, replace=False)].astype(np.float64)
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        m = size
        vals.append((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m))
    return np.mean(vals), np.std(vals)


out = sys.argv[1]
rs = np.random.RandomState(7)
cases = []
for na, nb, d, sub, size in ((80, 70, 48, 10, 50), (20, 25, 48, 5, 15)):
    a = (rs.randn(na, d) * 0.7 + 0.2).astype(np.float32)
    b = (rs.randn(nb, d) * 0.9 + rs.randn(d) * 0.1).astype(np.float32)
    ma, sa = np.mean(a, axis=0, dtype=np.float64), np.cov(a, rowvar=False)
    mb, sb = np.mean(b, axis=0, dtype=np.float64), np.cov(b, rowvar=False)
    km, ks = kid(a, b, sub, size)
    cases.append((a, b, ma, sa, fid_sqrtm(ma, sa, mb, sb), fid_eig(ma, sa, mb, sb), km, ks, sub, size))
    print(f"case {na}x{nb}x{d}: FID sqrtm {cases[-1][4]:.10f} eig {cases[-1][5]:.10f} KID {km:.6e} ± {ks:.3e}",
          file=sys.stderr)
with open(os.path.join(out, "fid_golden.bin"), "wb") as f:
    f.write(b"JFFD")
    for a, b, ma, sa, f1, f2, km, ks, sub, size in cases:
        f.write(struct.pack("<5I", len(a), len(b), a.shape[1], sub, size))
        f.write(a.astype("<f4").tobytes())
        f.write(b.astype("<f4").tobytes())
        f.write(ma.astype("<f8").tobytes())
        f.write(sa[0].astype("<f8").tobytes())
        f.write(struct.pack("<4d", f1, f2, km, ks))
a, ma, sa = cases[0][0], cases[0][2], cases[0][3]
np.savez_compressed(os.path.join(out, "stats_compressed.npz"), mu=ma, sigma=sa)
np.savez(os.path.join(out, "stats_stored_f4.npz"), mu=ma.astype(np.float32), sigma=sa.astype(np.float32))
np.savez_compressed(os.path.join(out, "kid_feats.npz"), feats=a)
