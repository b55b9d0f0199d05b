"""Keep the memory a training step frees for the next step (Linux with glibc only).

A step allocates the same large arrays every time (activations, their gradients, column
buffers) and frees them again. glibc's malloc hands memory at the top of its heap back to the
kernel as soon as more than a threshold (twice the largest array it has seen, a few MB) is
free there, and takes fresh pages for the next step, each one a page fault that the kernel
zeroes: a LeNet-5 step at batch 64 took about 2,400 page faults and 6 of its 19 ms of CPU time
in the kernel (`benchmarks/bench_training.py`; PyTorch's step took 1,600 faults). Keeping up to
TRIM_THRESHOLD bytes of freed memory at the heap's top, and serving arrays of up to
MMAP_THRESHOLD bytes from the heap instead of a fresh mapping each, leaves 0.4 faults a step.
A larger array still gets a mapping of its own, returned when freed: arrays served from the
heap leave gaps there that count towards the resident memory, and the peak of a ResNet-18
step at batch 32, 224x224, was 1,975 MiB with malloc's defaults, 2,003 MiB with arrays of up
to 32 MB from the heap, 1,800 MiB with up to 8 MB and 1,751 MiB with up to 4 MB (LeNet-5's
step takes no faults from 4 MB on, 2,900 with 2 MB). The threshold is 32 MB nonetheless, the
largest glibc allows: a fixed threshold turns off malloc's own habit of raising it to the
size of the arrays it has freed, so with 8 MB every array between 8 and 32 MB came from a
fresh mapping, such as the 26 MB input gradient of max pooling at (32, 64, 56, 56): its
forward + backward took 38.6 ms with 8 MB, 32.8 with malloc's defaults and 17.1 with 32 MB
(two threads; PyTorch's 23). The 1.4% more peak memory of the ResNet-18 step is the price.

These are `mallopt` settings of the whole process, like the `MALLOC_MMAP_THRESHOLD_` and
`MALLOC_TRIM_THRESHOLD_` environment variables; set `SCRATCHNET_MALLOC=system` to leave
malloc as it is. Settings the user made through those variables (or `GLIBC_TUNABLES`) win.
"""
from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 32 * 2**20     # glibc's largest on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20

_M_TRIM_THRESHOLD = -1           # mallopt parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Apply the two settings; True if malloc took them."""
    if os.environ.get("SCRATCHNET_MALLOC") == "system" or not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):      # another C library (musl) has other knobs
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


KEEPS_FREED_MEMORY = keep_freed_memory()
