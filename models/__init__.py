"""Shipped model files (recogniser weights and language model); installed as htrbatch.models."""
