"""Compiled kernels are cached on disk, and the cache can live outside the package.

A system-wide (read-only) install cannot write next to its sources; numba then uses a per-user
cache directory, and NUMBA_CACHE_DIR chooses one explicitly. This test installs a copy of the
package, points NUMBA_CACHE_DIR elsewhere, and checks that a kernel's compiled code lands there
(and not in the package), that `cache_dir()` reports it, and that a second process loads it."""
import os
import shutil
import subprocess
import sys

import scratchnet

CHILD = """
import numpy as np, scratchnet as sn, scratchnet.nn.functional as F
from scratchnet.kernels import _jit
x = sn.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
y, idx = F.max_pool2d(x, 2, return_indices=True)
assert y.data.ravel().tolist() == [5.0, 7.0, 13.0, 15.0]
print(_jit.cache_dir())
"""


def test_kernels_cache_outside_the_package(tmp_path):
    pkg = tmp_path / "site" / "scratchnet"
    shutil.copytree(os.path.dirname(scratchnet.__file__), pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "user-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
               PYTHONPATH=str(tmp_path / "site"))
    first = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == str(cache)
    cached = [f for _, _, files in os.walk(cache) for f in files if f.endswith(".nbi")]
    assert cached, "no compiled kernel was written to the user cache"
    in_package = [f for _, _, files in os.walk(pkg) for f in files
                  if f.endswith((".nbi", ".nbc"))]
    assert not in_package
    second = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    after = [f for _, _, files in os.walk(cache) for f in files if f.endswith(".nbc")]
    assert len(after) >= 1


def _cache_files(cache, pattern):
    return sorted(p for p in cache.rglob(pattern))


def test_a_damaged_cache_file_is_named_with_how_to_clear_it(tmp_path):
    # a truncated .nbc (data) or .nbi (index) file made numba fail with "pickle data was
    # truncated" from deep inside its cache loader, naming no file
    cache = tmp_path / "cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
               PYTHONPATH=os.path.dirname(os.path.dirname(scratchnet.__file__)))

    def run():
        return subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                              text=True, timeout=300)

    assert run().returncode == 0
    for suffix in ("nbc", "nbi"):
        damaged = _cache_files(cache, f"pool.max_pool2d_forward-*.{suffix}")[0]
        data = damaged.read_bytes()
        damaged.write_bytes(data[:len(data) // 2])
        broken = run()
        assert broken.returncode != 0
        last = broken.stderr.strip().splitlines()[-1]
        assert last.startswith("scratchnet.kernels._jit.KernelCacheError")
        assert str(damaged) in last and "max_pool2d_forward" in last
        # the advice works: delete the kernel's files, and the next run compiles it again
        stem = damaged.name.split(".py")[0]
        assert f"delete {stem}.* in {damaged.parent}" in last
        for f in damaged.parent.glob(stem + ".*"):
            f.unlink()
        again = run()
        assert again.returncode == 0, again.stderr
