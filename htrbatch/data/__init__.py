"""Datasets: IAM-OnDB reader, stroke renderer, degradations."""
