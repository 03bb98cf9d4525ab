"""Make docs/img/readme-example.png: a sample page with the lines htrbatch found, and its text.

python benchmarks/readme_figure.py samples/<page>.jpg docs/img/readme-example.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from htrbatch.io import read_pages
from htrbatch.pipeline import TranscribeOptions, Transcriber
from htrbatch.segment import draw_segmentation


def main(src: str, out: str) -> None:
    page = read_pages(src)[0]
    transcriber = Transcriber(TranscribeOptions(device="cpu"))
    seg = transcriber.segment(page)
    result = transcriber.transcribe_segmented([(page, seg)])[0]
    left = draw_segmentation(page.image, seg)
    scale = 900 / left.shape[1]
    left = cv2.resize(left, (900, int(left.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    right = np.full((left.shape[0], 900, 3), 255, np.uint8)
    y = 40
    cv2.putText(
        right, "htrbatch output (.txt)", (20, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (90, 90, 90), 2
    )
    for i, line in enumerate(result.lines, 1):
        y += 34
        text = f"{i:2d}  {line.text}"[:70]
        cv2.putText(
            right, text, (20, y), cv2.FONT_HERSHEY_SIMPLEX, 0.62, (20, 20, 20), 1, cv2.LINE_AA
        )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(out, np.hstack([left, np.full((left.shape[0], 8, 3), 200, np.uint8), right]))
    print(result.text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
