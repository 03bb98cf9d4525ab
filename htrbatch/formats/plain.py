"""The plain outputs: ``txt`` (one recognised line per line) and ``json`` (the page's
:meth:`~htrbatch.types.PageResult.to_dict`: lines with boxes, text, confidence and words)."""

from __future__ import annotations

import json

from htrbatch.types import PageResult


class TextSerializer:
    """``--format txt``: the page's lines, one per line (``<key>.txt``)."""

    name = "txt"
    suffix = ".txt"
    per_document = False

    def serialize(self, page: PageResult) -> str:
        return page.text + ("\n" if page.lines else "")


class JsonSerializer:
    """``--format json``: the page as JSON (``<key>.json``)."""

    name = "json"
    suffix = ".json"
    per_document = False

    def serialize(self, page: PageResult) -> str:
        return json.dumps(page.to_dict(), ensure_ascii=False, indent=1) + "\n"
