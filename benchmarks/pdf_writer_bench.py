"""Which library adds the searchable PDF's text layer: pikepdf (qpdf, MPL-2.0) or pypdf
(pure Python, BSD).

The operation htrbatch needs on a PDF input: open it, add one content stream (the invisible
words) and one font resource to every page, save. An N-page PDF of scanned JPEG pages (the
samples, repeated) is made once; each library then does the operation in a fresh process
(time and peak resident memory of that process), and the output is checked with PDFium
(every page's text layer extracts).

    nice python benchmarks/pdf_writer_bench.py --pages 200 --json benchmarks/results/pdf-writer.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = b"BT 3 Tr /FHtr0 24 Tf 100 Tz 1 0 0 1 72 700 Tm (hello world) Tj ET\n" * 40


def make_input(path: Path, pages: int) -> None:
    from PIL import Image

    names = ["a04-047-notebook.jpg", "d05-335z-scan.jpg", "m04-392z-gray.jpg"]
    ims = [Image.open(ROOT / "samples" / n).convert("L") for n in names]
    seq = [ims[i % len(ims)] for i in range(pages)]
    seq[0].save(path, save_all=True, append_images=seq[1:], resolution=300)


def run_pikepdf(src: Path, dst: Path) -> None:
    import pikepdf

    with pikepdf.open(src) as pdf:
        font = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        for page in pdf.pages:
            name = page.add_resource(font, pikepdf.Name.Font, prefix="FHtr")
            page.contents_add(pdf.make_stream(LAYER.replace(b"/FHtr0", str(name).encode())))
        pdf.save(dst, compress_streams=True)


def run_pypdf(src: Path, dst: Path) -> None:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
    )

    writer = PdfWriter(clone_from=PdfReader(src))
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for page in writer.pages:
        res = page[NameObject("/Resources")].get_object()
        fonts = res.get("/Font")
        if fonts is None:
            fonts = DictionaryObject()
            res[NameObject("/Font")] = fonts
        fonts = fonts.get_object()
        fonts[NameObject("/FHtr0")] = font
        stream = DecodedStreamObject()
        stream.set_data(LAYER)
        ref = writer._add_object(stream)
        contents = page.get("/Contents")
        arr = ArrayObject()
        if contents is not None:
            c = contents.get_object()
            arr.extend(c if isinstance(c, ArrayObject) else [contents])
        arr.append(ref)
        page[NameObject("/Contents")] = arr
    with open(dst, "wb") as fh:
        writer.write(fh)


def child(lib: str, src: str, dst: str) -> None:
    t0 = time.perf_counter()
    {"pikepdf": run_pikepdf, "pypdf": run_pypdf}[lib](Path(src), Path(dst))
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--work", type=Path, default=ROOT / "work" / "pdf-writer-bench")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    import pypdfium2 as pdfium

    args.work.mkdir(parents=True, exist_ok=True)
    src = args.work / "in.pdf"
    make_input(src, args.pages)
    report = {"pages": args.pages, "input_mb": round(src.stat().st_size / 2**20, 1), "libs": {}}
    for lib in ("pikepdf", "pypdf"):
        dst = args.work / f"out-{lib}.pdf"
        out = subprocess.run(
            [sys.executable, __file__, "--child", lib, str(src), str(dst)],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        doc = pdfium.PdfDocument(str(dst))
        ok = sum("hello world" in doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        row.update(output_mb=round(dst.stat().st_size / 2**20, 1), pages_with_text=ok)
        doc.close()
        report["libs"][lib] = row
    import pikepdf
    import pypdf

    report["versions"] = {"pikepdf": pikepdf.__version__, "pypdf": pypdf.__version__}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
