"""Where and how torch runs: device, precision (autocast dtype), threads, CPU features, worker
counts and returning freed memory to the OS. Used by the pipeline, training and the CLI.

One precision policy serves inference and training (:func:`choose_precision`); when it cannot
honour an explicit ``--precision`` it says why in :attr:`Precision.note`, which the CLI prints
once per run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from htrbatch.errors import OptionsError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TRAIN_PRECISIONS = ("auto", "fp32", "bf16")  # training runs on the CPU, where fp16 never pays

# --------------------------------------------------------------------------- device, threads


def check_device(device: str) -> None:
    """Raise :class:`OptionsError` unless ``device`` is one of :data:`DEVICES` and present."""
    if device not in DEVICES:
        raise OptionsError(f"--device {device!r}: expected one of {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise OptionsError("--device cuda: no CUDA device is available (use auto or cpu)")


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA where available, else the CPU; other names as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def set_threads(threads: int) -> None:
    """Torch's (process-wide) intra-op thread count; 0 leaves torch's default."""
    if threads > 0:
        torch.set_num_threads(threads)


def usable_cpus() -> int:
    """CPU cores this process may run on (affinity and container limits included where visible)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """Page-preparation processes: one per core, at most 4; 0 (everything in this process) on a
    single core. On 2 cores two workers beside the recogniser read pages 1.5x faster than one
    (segmentation is most of a page's work; docs/benchmarks.md, "Speed against Tesseract")."""
    cpus = usable_cpus()
    return 0 if cpus < 2 else min(4, cpus)


def recognizer_threads(threads: int, workers: int, line_images: bool = False) -> int:
    """Torch threads for the recogniser next to ``workers`` page processes: ``threads`` if set,
    else the cores the workers leave free (at least one, at most torch's default); 0 (torch's
    default) when there are no workers. With ``line_images`` (``--segmenter none``: the workers
    only clean line images, a few ms each) the recogniser gets every core: on 2 cores that read
    600 lines 1.1x faster, where pages, segmented by busy workers, were 1.2x slower with it
    (docs/benchmarks.md, "Speed against Tesseract")."""
    if threads == 0 and workers > 0:
        free = usable_cpus() if line_images else usable_cpus() - workers
        return min(torch.get_num_threads(), max(1, free))
    return threads


# --------------------------------------------------------------------------- memory


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Batches of varying shapes leave glibc's heap fragmented, and a long run's resident size
    would creep up without it."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Make this (worker) process end when ``parent`` does, however it ends (kill -9 included):
    Linux's parent-death signal. Without it, forked pool workers of a killed run wait forever
    on a pipe whose write end they hold themselves. The signal follows the thread that forked
    the worker: fork pools from a thread that lives as long as the pool (the transcribe pipeline
    forks from its caller's). Elsewhere a no-op."""
    if _LIBC is None or not sys.platform.startswith("linux"):
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


# --------------------------------------------------------------------------- precision


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags Linux reports in /proc/cpuinfo (empty elsewhere or if unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_has_native_bf16(flags: Iterable[str] | None = None) -> bool:
    """Whether bf16 autocast pays on this CPU: where it has bf16 instructions (``avx512_bf16``
    or Intel AMX ``amx_bf16``) and oneDNN.

    Without them PyTorch emulates bf16 and runs slower than fp32. On the development CPU
    (``avx512_bf16``, no AMX) the shipped model v3 ran its forward pass 1.8x faster under bf16
    autocast (192 vs 104 lines/s, 2 threads) with the same greedy CER on testset_t (13.70 vs
    13.72 %); the 4x smaller v2 had been slower in bf16 (0.6x), so re-measure for a new model
    (docs/benchmarks.md, Throughput). Training: a forward + backward step ran 1.6-2.1x faster
    (docs/benchmarks.md, Training).
    """
    flags = cpu_flags() if flags is None else frozenset(flags)
    return bool(flags & BF16_FLAGS) and torch.backends.mkldnn.is_available()


def _no_cpu_bf16_reason(flags: Iterable[str] | None) -> str:
    flags = cpu_flags() if flags is None else frozenset(flags)
    if not flags & BF16_FLAGS:
        return "this CPU has no bf16 instructions (avx512_bf16 or amx_bf16)"
    return "this PyTorch has no oneDNN for bf16"


def dtype_name(dtype: torch.dtype | None) -> str:
    """The precision name of an autocast dtype (None = fp32), as logs and results report it."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


@dataclass(frozen=True)
class Precision:
    """What a run computes in: the autocast ``dtype`` (None = plain fp32), and ``note``, a
    sentence for the user when an explicit ``--precision`` could not be honoured as asked."""

    dtype: torch.dtype | None
    note: str | None = None

    @property
    def name(self) -> str:
        return dtype_name(self.dtype)


def choose_precision(
    precision: str,
    device: torch.device,
    flags: Iterable[str] | None = None,
    *,
    training: bool = False,
) -> Precision:
    """The one precision policy: the autocast dtype for ``precision`` on ``device``.

    Inference (:data:`PRECISIONS`):
      CUDA: ``auto``/``fp16`` -> fp16, ``bf16`` -> bf16 where the GPU has it (else fp16).
      CPU: ``auto``/``bf16`` -> bf16 only where :func:`cpu_has_native_bf16`, else fp32; fp16 is
      always fp32 on CPU (emulated, far slower).
    Training (``training=True``, CPU, :data:`TRAIN_PRECISIONS`): ``auto`` as for inference; an
    explicit ``bf16`` is used even where it is emulated (slower, but it is what was asked for).
    ``fp32`` -> fp32 everywhere. ``auto`` never carries a note; an explicit choice that runs as
    something else, or emulated, does.
    """
    choices = TRAIN_PRECISIONS if training else PRECISIONS
    if precision not in choices:
        raise OptionsError(f"--precision {precision!r}: expected one of {', '.join(choices)}")
    if precision == "fp32":
        return Precision(None)
    if device.type == "cuda":
        if precision == "bf16":
            if torch.cuda.is_bf16_supported():
                return Precision(torch.bfloat16)
            return Precision(torch.float16, "--precision bf16: this GPU has no bf16, running fp16")
        return Precision(torch.float16)
    if precision == "fp16":
        return Precision(
            None, "--precision fp16: fp16 is emulated on the CPU (far slower), running fp32"
        )
    if cpu_has_native_bf16(flags):
        return Precision(torch.bfloat16)
    if precision == "auto":
        return Precision(None)
    reason = _no_cpu_bf16_reason(flags)
    if training:
        return Precision(
            torch.bfloat16, f"--precision bf16: {reason}, so bf16 is emulated (slower than fp32)"
        )
    return Precision(None, f"--precision bf16: {reason}, running fp32")


def resolve_precision(
    precision: str, device: torch.device, flags: Iterable[str] | None = None
) -> torch.dtype | None:
    """The inference autocast dtype for ``precision`` on ``device``, or None for plain fp32
    (:func:`choose_precision` without its note)."""
    return choose_precision(precision, device, flags).dtype
