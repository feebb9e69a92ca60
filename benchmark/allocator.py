"""Keep freed memory in the process instead of handing it back to the kernel after every training step.

glibc's malloc serves blocks above its mmap threshold (128 KiB at first, then adapting up to the largest
block freed) with fresh mmap'd pages and returns them on free; the heap's top is trimmed back to the kernel
above 128 KiB too. A training step allocates and frees dozens of activation tensors of 0.1–2 MiB, so every
step faulted in its pages anew: about 1,800 page faults per downstream decoder step at `small`, 16% of its
time on this VM (38 → 32 ms, `bench/speed.py --only stages`). Fixing the thresholds (the largest mmap
threshold glibc accepts, 32 MiB on 64-bit machines; no trimming) lets freed blocks be reused as they are.
The numbers computed do not change; the process keeps its peak heap. Not glibc (musl, macOS): nothing done.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TOP_PAD = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds for this process; False where there is no glibc mallopt."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok &= mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    ok &= mallopt(M_TOP_PAD, TOP_PAD) == 1
    return bool(ok)
