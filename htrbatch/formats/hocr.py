"""hOCR (the HTML microformat Tesseract, OCRmyPDF and many viewers read): writing.

One ``ocr_page`` holds one ``ocr_carea`` with one ``ocr_par`` of ``ocr_line`` elements, each
with its ``ocrx_word`` words; every element has its ``bbox`` (input-image pixels), lines and
words their confidence as ``x_wconf`` (0-100).
"""

from __future__ import annotations

import html
from pathlib import Path

from htrbatch.formats.layout import line_words, software, union_box
from htrbatch.types import BBox, PageResult


def _bbox(box: BBox) -> str:
    return "bbox " + " ".join(str(int(v)) for v in box)


def _conf(c: float) -> int:
    return int(round(100 * min(1.0, max(0.0, c))))


def write(page: PageResult) -> str:
    """One page's results as an hOCR (XHTML) document."""
    name, version = software()
    e = html.escape
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"',
        '    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
        "<head>",
        f"<title>{e(Path(page.source).name)}</title>",
        '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>',
        f'<meta name="ocr-system" content="{e(name)} {e(version)}"/>',
        '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word '
        'ocrp_wconf"/>',
        "</head>",
        "<body>",
    ]
    page_box = (0, 0, page.width, page.height)
    image = e(Path(page.source).name, quote=False).replace('"', "")
    ppageno = (page.page or 1) - 1
    out.append(
        f'<div class="ocr_page" id="page_1" '
        f"title='image \"{image}\"; {_bbox(page_box)}; ppageno {ppageno}'>"
    )
    if page.lines:
        area = _bbox(union_box([ln.bbox for ln in page.lines]))
        out.append(f'<div class="ocr_carea" id="block_1" title="{area}">')
        out.append(f'<p class="ocr_par" id="par_1" title="{area}">')
        for i, line in enumerate(page.lines, 1):
            words = [
                f'<span class="ocrx_word" id="word_{i}_{k}" '
                f'title="{_bbox(w.bbox)}; x_wconf {_conf(w.confidence)}">{e(w.text)}</span>'
                for k, w in enumerate(line_words(line), 1)
            ]
            out.append(
                f'<span class="ocr_line" id="line_{i}" '
                f'title="{_bbox(line.bbox)}; x_wconf {_conf(line.confidence)}">'
                + " ".join(words)
                + "</span>"
            )
        out += ["</p>", "</div>"]
    out += ["</div>", "</body>", "</html>", ""]
    return "\n".join(out)


class HocrSerializer:
    """``--format hocr``: hOCR per page (``<key>.hocr``)."""

    name = "hocr"
    suffix = ".hocr"
    per_document = False

    def serialize(self, page: PageResult) -> str:
        return write(page)
