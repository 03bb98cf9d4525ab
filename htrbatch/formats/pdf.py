"""PDF: reading scans out of PDFs (pypdfium2) and writing searchable PDFs (pikepdf).

Reading: each page is rendered to grayscale by PDFium, one page at a time (a 500-page PDF never
holds more than one rendered page). A page that is one scanned image (exactly one image object
covering at least 90 % of the page: what scanners and ``img2pdf`` make) is rendered at that
image's own resolution, so the recogniser sees the scan's pixels, neither blurred by resampling
down nor inflated by resampling up; any other page (born-digital, several images, vector
drawings) at ``dpi`` (default 300). Either is capped so a page stays under
:data:`htrbatch.io.MAX_PIXELS`. Encrypted or damaged files raise
:class:`~htrbatch.errors.InputError` naming the file.

Writing (:class:`PdfSerializer`): one PDF per input document with an invisible text layer
(text render mode 3) on each word box, as OCRmyPDF and Tesseract make them. A PDF input keeps its
own pages (the layer is added on top, original content untouched, ``/Rotate`` and crop boxes
honoured); an image input becomes pages showing the image (a JPEG is embedded as it is, other
images losslessly). The layer's font is a Type 3 font of blank glyphs of one width with a
``ToUnicode`` map, so any character the model writes is selectable and findable, and each word's
glyphs are stretched (``Tz``) over the word's box, a space filling the gap to the next word.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from htrbatch.errors import InputError
from htrbatch.types import PageImage, PageResult

DEFAULT_DPI = 300
SCAN_COVER = 0.9  # an image covering this much of a page makes it a scanned page
MIN_DPI, MAX_DPI = 50, 1200  # a scan's own resolution outside this is distrusted: --dpi instead
REOPEN_EVERY = 50  # pages rendered per opening of the document (bounds PDFium's caches)


def is_pdf(path: str | Path) -> bool:
    """Whether the file starts like a PDF (``%PDF-`` in its first KiB, as readers accept)."""
    try:
        with open(path, "rb") as fh:
            return b"%PDF-" in fh.read(1024)
    except OSError:
        return False


def _open(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower():
            raise InputError(path, "PDF is encrypted (password required)") from None
        raise InputError(path, f"cannot read PDF ({msg})") from None


def page_count(path: str | Path) -> int:
    """Pages in a PDF; InputError for an encrypted or unreadable one."""
    doc = _open(Path(path))
    try:
        return len(doc)
    finally:
        doc.close()


def scan_dpi(page) -> float | None:
    """The resolution of a page that is one scanned image (see the module doc), else None."""
    import pypdfium2.raw as pdfium_c

    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
    if len(images) != 1:
        return None
    img = images[0]
    try:
        left, bottom, right, top = img.get_bounds()
        px_w, px_h = img.get_px_size()
    except Exception:  # an image PDFium cannot measure: render at --dpi
        return None
    w_pt, h_pt = page.get_size()
    if w_pt <= 0 or h_pt <= 0 or right <= left or top <= bottom:
        return None
    shown = (min(right, w_pt) - max(left, 0)) * (min(top, h_pt) - max(bottom, 0))
    if shown < SCAN_COVER * w_pt * h_pt:
        return None
    # the larger pixel extent over the larger shown extent (the image may be rotated 90 degrees)
    dpi = max(px_w, px_h) / (max(right - left, top - bottom) / 72.0)
    # a hair less, so the page renders to the image's own size (sizes are rounded up)
    dpi *= 1 - 1e-6
    return dpi if MIN_DPI <= dpi <= MAX_DPI else None


def render_dpi(page, dpi: float) -> float:
    """The resolution ``page`` is rendered at: a scan's own, else ``dpi``; capped to the pixel
    limit."""
    from htrbatch.io import MAX_PIXELS  # at call time: io imports this module

    use = scan_dpi(page) or float(dpi)
    w_pt, h_pt = page.get_size()
    pixels = (w_pt * use / 72.0) * (h_pt * use / 72.0)
    if pixels > MAX_PIXELS:
        use *= (MAX_PIXELS / pixels) ** 0.5
    return use


def iter_pages(path: str | Path, dpi: float = DEFAULT_DPI) -> Iterator[PageImage]:
    """The pages of a PDF as grayscale images, rendered one at a time (see the module doc).

    Pages are numbered 1..n when there are several, None for a one-page PDF, as for TIFF. PDFium
    keeps what it parsed of every page it has loaded for as long as the document is open (about
    a page's compressed size each: +120 MB over a 500-page scan), so the document is opened
    afresh every :data:`REOPEN_EVERY` pages; memory then stays flat
    (``benchmarks/pdf_read_bench.py``)."""
    path = Path(path)
    doc = _open(path)
    try:
        n = len(doc)
        if n == 0:
            raise InputError(path, "PDF has no pages")
        for i in range(n):
            if i and i % REOPEN_EVERY == 0:
                doc.close()
                doc = _open(path)
            yield PageImage(_render(doc, i, path, dpi), str(path), i + 1 if n > 1 else None)
    finally:
        doc.close()


def _render(doc, i: int, path: Path, dpi: float) -> np.ndarray:
    try:
        page = doc[i]
    except Exception as exc:
        raise InputError(path, f"page {i + 1}: cannot read ({exc})") from None
    try:
        scale = render_dpi(page, dpi) / 72.0
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
        gray = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
        bitmap.close()
    except Exception as exc:
        raise InputError(path, f"page {i + 1}: cannot render ({exc})") from None
    finally:
        page.close()
    if gray.ndim == 3:
        gray = gray[:, :, 0]
    if min(gray.shape) < 8:
        raise InputError(path, f"page {i + 1} renders to {gray.shape[1]}x{gray.shape[0]} pixels")
    return gray


# --------------------------------------------------------------------------- writing


class _Glyphs:
    """Characters of the text layer as one-byte codes of Type 3 fonts (254 characters each)."""

    def __init__(self) -> None:
        self.fonts: list[dict[str, int]] = []
        self.where: dict[str, tuple[int, int]] = {}

    def encode(self, text: str) -> list[tuple[int, bytes]]:
        """``text`` as runs of (font index, codes)."""
        runs: list[tuple[int, bytearray]] = []
        for ch in text:
            if ch not in self.where:
                if not self.fonts or len(self.fonts[-1]) >= 254:
                    self.fonts.append({})
                font = self.fonts[-1]
                font[ch] = len(font) + 1
                self.where[ch] = (len(self.fonts) - 1, font[ch])
            f, code = self.where[ch]
            if runs and runs[-1][0] == f:
                runs[-1][1].append(code)
            else:
                runs.append((f, bytearray([code])))
        return [(f, bytes(b)) for f, b in runs]


GLYPH_WIDTH = 500  # every glyph, in 1/1000 of the font size


def _utf16_hex(ch: str) -> str:
    return ch.encode("utf-16-be").hex().upper()


def _font(pdf, chars: dict[str, int]):
    import pikepdf

    n = len(chars)
    glyph = pdf.make_stream(f"{GLYPH_WIDTH} 0 0 -200 {GLYPH_WIDTH} 800 d1".encode())
    procs = pikepdf.Dictionary({f"/g{code}": glyph for code in chars.values()})
    diffs = pikepdf.Array([1] + [pikepdf.Name(f"/g{code}") for code in range(1, n + 1)])
    entries = [f"<{code:02X}> <{_utf16_hex(ch)}>" for ch, code in chars.items()]
    blocks = []
    for k in range(0, len(entries), 100):
        part = entries[k : k + 100]
        blocks.append(f"{len(part)} beginbfchar\n" + "\n".join(part) + "\nendbfchar")
    cmap = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<00> <FF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    )
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type3,
            FontBBox=[0, -200, GLYPH_WIDTH, 800],
            FontMatrix=[0.001, 0, 0, 0.001, 0, 0],
            CharProcs=procs,
            Encoding=pikepdf.Dictionary(Type=pikepdf.Name.Encoding, Differences=diffs),
            FirstChar=1,
            LastChar=n,
            Widths=[GLYPH_WIDTH] * n,
            ToUnicode=pdf.make_stream(cmap.encode()),
            Resources=pikepdf.Dictionary(),
        )
    )


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _text_layer(result: PageResult, w_pt: float, h_pt: float, glyphs: _Glyphs, names) -> bytes:
    """Content operators drawing ``result``'s words invisibly on a ``w_pt`` x ``h_pt`` page
    (origin bottom left, y up); ``names[i]`` is the resource name of font ``i``."""
    sx = w_pt / max(1, result.width)
    sy = h_pt / max(1, result.height)
    ops = ["BT", "3 Tr"]
    for line in result.lines:
        words = line.words
        for k, word in enumerate(words):
            x0, y0, x1, y1 = word.bbox
            text = word.text
            # the space's glyph reaches to the next word, so extraction and search see one
            end = x1
            if k + 1 < len(words) and words[k + 1].bbox[0] > x0:
                text += " "
                end = words[k + 1].bbox[0]
            size = max(1.0, (y1 - y0) * sy)
            natural = len(text) * size * GLYPH_WIDTH / 1000
            scale = 100.0 * max(1e-3, (end - x0) * sx) / natural
            base = h_pt - (y1 - 0.2 * (y1 - y0)) * sy
            ops.append(f"{_num(scale)} Tz 1 0 0 1 {_num(x0 * sx)} {_num(base)} Tm")
            for font, codes in glyphs.encode(text):
                ops.append(f"{names(font)} {_num(size)} Tf <{codes.hex().upper()}> Tj")
    ops.append("ET")
    return ("\n".join(ops) + "\n").encode()


def _display_matrix(page) -> tuple[list[float], float, float]:
    """The matrix from displayed-page points (origin bottom left of the page as shown, after
    ``/Rotate`` and the crop box) to the page's user space, and the shown width and height."""
    box = [float(v) for v in (page.obj.get("/CropBox") or page.mediabox)]
    x0, y0, x1, y1 = (
        min(box[0], box[2]),
        min(box[1], box[3]),
        max(box[0], box[2]),
        max(box[1], box[3]),
    )
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    w, h = x1 - x0, y1 - y0
    if rotate == 90:
        return [0, 1, -1, 0, x1, y0], h, w
    if rotate == 180:
        return [-1, 0, 0, -1, x1, y1], w, h
    if rotate == 270:
        return [0, -1, 1, 0, x0, y1], h, w
    return [1, 0, 0, 1, x0, y0], w, h


def _add_fonts(pdf, page, glyphs: _Glyphs, first: int) -> dict[int, str]:
    """Put fonts ``first..`` of ``glyphs`` into ``page``'s resources; their resource names."""
    import pikepdf

    names = {}
    for i in range(first, len(glyphs.fonts)):
        names[i] = page.add_resource(_font(pdf, glyphs.fonts[i]), pikepdf.Name.Font, prefix="FHtr")
    return names


def _overlay(pdf, page, result: PageResult, matrix: list[float], w_pt: float, h_pt: float) -> None:
    """Add ``result``'s text layer on top of ``page``, isolated from the page's own state."""
    glyphs = _Glyphs()
    names: dict[int, str] = {}
    # encode first, so every font the layer needs exists before resources are added
    body = _text_layer(result, w_pt, h_pt, glyphs, lambda f: f"/__F{f}")
    names = _add_fonts(pdf, page, glyphs, 0)
    for i, name in names.items():
        body = body.replace(f"/__F{i} ".encode(), f"{name} ".encode())
    cm = " ".join(_num(v) for v in matrix)
    page.contents_add(pdf.make_stream(b"q\n"), prepend=True)
    page.contents_add(pdf.make_stream(b"Q\nq " + cm.encode() + b" cm\n" + body + b"Q\n"))


def _image_xobject(pdf, frame, jpeg: bytes | None):
    """A PIL frame as an image XObject: the JPEG's own bytes when given, else Flate."""
    import pikepdf

    if jpeg is not None:
        space = pikepdf.Name.DeviceGray if frame.mode == "L" else pikepdf.Name.DeviceRGB
        return pdf.make_stream(
            jpeg,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=frame.width,
            Height=frame.height,
            ColorSpace=space,
            BitsPerComponent=8,
            Filter=pikepdf.Name.DCTDecode,
        )
    if frame.mode == "1":
        data, bits, space = frame.tobytes(), 1, pikepdf.Name.DeviceGray
    else:
        keep = "L" if frame.mode in ("L", "LA", "I;16", "I", "F") else "RGB"
        if frame.mode in ("RGBA", "LA", "PA", "P"):
            from PIL import Image

            rgba = frame.convert("RGBA")
            paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            frame = Image.alpha_composite(paper, rgba)
        if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            arr = np.asarray(frame, dtype=np.float64)
            hi = arr.max()
            arr = arr * (255.0 / (65535.0 if hi > 4095 else max(hi, 1.0)))
            from PIL import Image

            frame = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        frame = frame.convert(keep)
        data, bits = frame.tobytes(), 8
        space = pikepdf.Name.DeviceGray if keep == "L" else pikepdf.Name.DeviceRGB
    return pdf.make_stream(
        zlib.compress(data, 6),
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=frame.width,
        Height=frame.height,
        ColorSpace=space,
        BitsPerComponent=bits,
        Filter=pikepdf.Name.FlateDecode,
    )


def _image_pages(pdf, source: Path, results: Sequence[PageResult]) -> None:
    """One page per frame of an image file, showing it under its text layer."""
    import pikepdf
    from PIL import Image, ImageOps

    by_page = {r.page: r for r in results}
    with Image.open(source) as im:
        n = getattr(im, "n_frames", 1)
        for i in range(n):
            result = by_page.get(i + 1 if n > 1 else None)
            if result is None:
                continue
            im.seek(i)
            orientation = im.getexif().get(0x0112, 1) if i == 0 else 1
            frame = ImageOps.exif_transpose(im) if i == 0 else im.copy()
            jpeg = None
            if im.format == "JPEG" and n == 1 and orientation == 1 and frame.mode in ("L", "RGB"):
                jpeg = source.read_bytes()
            dpi = im.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))
            try:
                dx, dy = float(dpi[0]), float(dpi[1])
            except (TypeError, ValueError, IndexError):
                dx = dy = DEFAULT_DPI
            if not (MIN_DPI <= dx <= MAX_DPI and MIN_DPI <= dy <= MAX_DPI):
                dx = dy = DEFAULT_DPI
            w_pt, h_pt = frame.width * 72.0 / dx, frame.height * 72.0 / dy
            xobj = _image_xobject(pdf, frame, jpeg)
            page = pdf.add_blank_page(page_size=(w_pt, h_pt))
            name = page.add_resource(xobj, pikepdf.Name.XObject, prefix="Im")
            page.contents_add(
                pdf.make_stream(f"q {_num(w_pt)} 0 0 {_num(h_pt)} 0 0 cm {name} Do Q\n".encode())
            )
            _overlay(pdf, page, result, [1, 0, 0, 1, 0, 0], w_pt, h_pt)


def searchable_pdf(source: str | Path, results: Sequence[PageResult]) -> bytes:
    """A searchable PDF of ``source`` (a PDF or an image file) with the words of ``results``
    (its pages' results, any order) as an invisible text layer; see the module doc."""
    import pikepdf

    source = Path(source)
    if is_pdf(source):
        try:
            pdf = pikepdf.open(source)
        except pikepdf.PasswordError:
            raise InputError(source, "PDF is encrypted (password required)") from None
        except pikepdf.PdfError as exc:
            raise InputError(source, f"cannot read PDF ({exc})") from None
        n = len(pdf.pages)
        for r in results:
            index = (r.page or 1) - 1
            if not 0 <= index < n:
                raise InputError(source, f"page {r.page}: not in a PDF of {n} pages")
            page = pdf.pages[index]
            matrix, w_pt, h_pt = _display_matrix(page)
            _overlay(pdf, page, r, matrix, w_pt, h_pt)
    else:
        pdf = pikepdf.new()
        _image_pages(pdf, source, results)
    buf = io.BytesIO()
    with pdf:
        pdf.save(buf, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return buf.getvalue()


class PdfSerializer:
    """``--format pdf``: one searchable PDF per input document (``<key>.pdf``)."""

    name = "pdf"
    suffix = ".pdf"
    per_document = True

    def serialize_document(self, source: str | Path, results: Sequence[PageResult]) -> bytes:
        return searchable_pdf(source, results)
