"""Optional int8 dynamic quantisation of the recogniser for CPU inference (``--quantize``).

``int8``: the LSTM and linear layers get int8 weights and run with int8 activations whose
scale is measured on each batch as it runs (PyTorch dynamic quantisation); the convolutions
are left as they are (fp32, or bf16 under ``--precision auto`` on CPUs with bf16). The
per-batch scales mean a line's text can depend on the lines it is batched with, so this is an
option, off by default (``none``): docs/benchmarks.md, "Speed against Tesseract", has its
speed and CER.
"""

from __future__ import annotations

from torch import nn

QUANTIZE = ("none", "int8")
"""Values of ``--quantize``."""


def quantize_model(model: nn.Module, mode: str) -> nn.Module:
    """``model`` as ``mode`` says: itself for ``none``, a quantised copy for ``int8``."""
    if mode not in QUANTIZE:
        from htrbatch.errors import OptionsError

        raise OptionsError(f"--quantize {mode!r}: expected one of {', '.join(QUANTIZE)}")
    if mode == "none":
        return model
    import torch
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)
