"""htrbatch: batch handwritten text recognition (page scans -> lines -> text)."""

__version__ = "0.1.0"
