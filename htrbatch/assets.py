"""Where the shipped model files live.

In a source checkout they are in ``<repo>/models``; after ``pip install .`` the same folder is
installed as the package ``htrbatch.models``. Nothing is ever downloaded.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

MODEL_FILE = "htrbatch-crnn.pt"
LM_FILE = "lm.arpa.gz"
LM_UNIGRAMS_FILE = "lm.unigrams.txt"


def models_dir() -> Path:
    """The folder holding the shipped files (checkout first, then the installed package)."""
    checkout = Path(__file__).resolve().parent.parent / "models"
    if (checkout / "__init__.py").is_file():
        return checkout
    return Path(str(resources.files("htrbatch.models")))


def default_model_path() -> Path:
    return models_dir() / MODEL_FILE


def default_lm_path() -> Path:
    return models_dir() / LM_FILE


def default_unigrams_path() -> Path:
    return models_dir() / LM_UNIGRAMS_FILE
