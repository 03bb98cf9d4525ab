"""Where the shipped model files live.

In a source checkout they are in ``<repo>/models``; after ``pip install .`` the same folder is
installed as the package ``htrbatch.models``. Nothing is ever downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

MODEL_FILE = "htrbatch-crnn.pt"
LM_FILE = "lm.arpa.gz"


@dataclass(frozen=True)
class ShippedModel:
    """A recogniser shipped in models/, selected by name (``--model NAME``), with the word LM that
    goes with it (what ``--lm default`` means for this model)."""

    name: str
    file: str
    lm: str
    about: str


SHIPPED_MODELS = {
    m.name: m
    for m in (
        ShippedModel("default", MODEL_FILE, LM_FILE, "the general model (modern hands, English)"),
        ShippedModel(
            "hooker",
            "hooker-crnn.pt",
            "hooker-lm.arpa.gz",
            "the default model fine-tuned on Joseph Hooker's letters (19th-century English "
            "cursive); trained on CC-BY-SA 4.0 data, images (c) RBG Kew",
        ),
    )
}


def models_dir() -> Path:
    """The folder holding the shipped files (checkout first, then the installed package)."""
    checkout = Path(__file__).resolve().parent.parent / "models"
    if (checkout / "__init__.py").is_file():
        return checkout
    return Path(str(resources.files("htrbatch.models")))


def default_model_path() -> Path:
    return models_dir() / MODEL_FILE


def model_file(model: str) -> Path:
    """The checkpoint ``--model``/``--init`` names: a shipped model's name, else a path."""
    shipped = SHIPPED_MODELS.get(model)
    return models_dir() / shipped.file if shipped else Path(model).expanduser()


def model_lm_path(model: str) -> Path:
    """The word LM ``--lm default`` selects for ``model``: a shipped model's own LM, else (a
    checkpoint path) the default LM."""
    shipped = SHIPPED_MODELS.get(model, SHIPPED_MODELS["default"])
    return models_dir() / shipped.lm


def default_lm_path() -> Path:
    return models_dir() / LM_FILE
