"""The one place that decides how kernels are compiled.

`cache=True` writes compiled machine code next to the source (in __pycache__), so only the
first import on a machine pays the compile time. When the package directory is read-only
(a system-wide install), numba falls back to a per-user cache directory by itself
(NUMBA_CACHE_DIR overrides both). `fastmath` stays off: it would let the compiler assume
no NaNs, and the library's NaN checks would silently pass; the dot-product kernels take only
the flags that reorder a sum (SUM_ORDER_FLAGS).
"""
from __future__ import annotations

import os
import pickle

import numba


class KernelCacheError(RuntimeError):
    """A compiled kernel in numba's on-disk cache cannot be read (a truncated or corrupted
    file, e.g. after a full disk or a killed first run)."""


# what numba's cache loader raises on a damaged file: it unpickles the index (.nbi) and the
# data (.nbc) files without checking them first
_DAMAGED = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError)


def _damaged_file(cache, sig, target_context):
    """The cache file that fails to load: the index, or the data file the index points to.
    Reads numba's private cache layout, so any surprise falls back to the directory."""
    try:
        impl = cache._cache_file
        try:
            overloads = impl._load_index()
        except _DAMAGED:
            return impl._index_path
        name = overloads.get(cache._index_key(sig, target_context.codegen()))
        return impl._data_path(name) if name else impl._index_path
    except Exception:
        return cache._cache_path


def _report_damaged_cache(dispatcher):
    """Make a damaged cache file an error that names the file and says how to clear it,
    instead of "pickle data was truncated" from deep inside numba. Wraps the one method
    that reads the cache (Cache.load_overload), so nothing else changes."""
    cache = getattr(dispatcher, "_cache", None)
    load = getattr(cache, "load_overload", None)
    if load is None:
        return dispatcher

    def load_overload(sig, target_context):
        try:
            return load(sig, target_context)
        except _DAMAGED as e:
            path = _damaged_file(cache, sig, target_context)
            if os.path.isdir(path):
                fix = f"delete the folder {path} to clear the cache"
            else:
                # index and data files share a stem: pool.max_pool2d_forward-23.py311.*
                stem = os.path.basename(path).split(".py")[0]
                fix = (f"delete {stem}.* in {os.path.dirname(path)} (or that whole folder) "
                       f"to clear the cache")
            raise KernelCacheError(
                f"the compiled kernel {dispatcher.py_func.__qualname__} cannot be read from "
                f"numba's cache file {path} ({type(e).__name__}: {e}); the file is damaged "
                f"(a full disk or an interrupted first run): {fix}; the kernels are compiled "
                f"again on the next run") from e

    cache.load_overload = load_overload
    return dispatcher


def jit(fn):
    """Decorator for serial kernels."""
    return _report_damaged_cache(numba.njit(cache=True, nogil=True)(fn))


def jit_parallel(fn):
    """Decorator for kernels whose outer loop is numba.prange (only where it measurably
    pays)."""
    return _report_damaged_cache(numba.njit(cache=True, nogil=True, parallel=True)(fn))


# Only the two fast-math flags that change the order of a sum: `reassoc` lets LLVM keep a
# dot product's running sum in several vector lanes and add them up at the end (a sum in
# strict order cannot be vectorised), `contract` fuses a multiply and an add into one
# instruction. Neither assumes that values are finite, so NaN and inf go through as in NumPy;
# the result's last bits follow the CPU's vector width, as a BLAS's do.
SUM_ORDER_FLAGS = frozenset({"reassoc", "contract"})


def jit_parallel_sums(fn):
    """Decorator for parallel kernels whose inner loops are dot products: numba.prange outer
    loop, and the sums' order left to the compiler (SUM_ORDER_FLAGS)."""
    return _report_damaged_cache(numba.njit(cache=True, nogil=True, parallel=True,
                                            fastmath=set(SUM_ORDER_FLAGS))(fn))


def jit_inline_sums(fn):
    """jit_inline for the dot-product helpers of jit_parallel_sums kernels."""
    return numba.njit(cache=True, nogil=True, inline="always",
                      fastmath=set(SUM_ORDER_FLAGS))(fn)


def jit_inline(fn):
    """Decorator for small helpers that numba pastes into their callers before compiling: a
    constant argument at the call site (a stride of 2, say) is then a constant inside the
    helper's loop, which LLVM can vectorise."""
    return numba.njit(cache=True, nogil=True, inline="always")(fn)


def jit_float_division(fn):
    """Decorator for serial kernels whose inner loops divide floats: x / 0 gives inf or NaN as
    in NumPy instead of a check that raises ZeroDivisionError. That check is a branch in every
    iteration and stops LLVM from vectorising the loop (measured on box IoU: 11 ms -> 1.1 ms
    for 2,000 x 2,000 boxes). Only for kernels that handle or rule out a zero divisor
    themselves."""
    return _report_damaged_cache(numba.njit(cache=True, nogil=True, error_model="numpy")(fn))

prange = numba.prange


def cache_dir() -> str:
    """Where compiled kernels are cached on this installation (what `scratchnet info`
    prints): NUMBA_CACHE_DIR if set, else the package's __pycache__ when writable, else
    numba's per-user cache directory."""
    if numba.config.CACHE_DIR:
        return numba.config.CACHE_DIR
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__")
    parent = os.path.dirname(here)
    if os.access(here if os.path.isdir(here) else parent, os.W_OK):
        return here
    from numba.misc.appdirs import AppDirs

    return os.path.join(AppDirs(appname="numba", appauthor=False).user_cache_dir,
                        "<mirrored package path>")
