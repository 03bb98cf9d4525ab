"""Small PAGE XML and ALTO documents and the page image they describe, written by the tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PAGE_NS = {
    "2013": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15",
    "2019": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15",
}


def page_xml(version: str, image: str = "p.png", lines: str | None = None) -> str:
    """A PAGE document with two regions listed in reverse reading order."""
    lines = lines or (
        '<TextLine id="l2" custom="readingOrder {index:1;}">'
        '<Coords points="10,60 190,60 190,90 10,90"/><Baseline points="10,85 190,85"/>'
        "<TextEquiv><Unicode>second line</Unicode></TextEquiv></TextLine>"
        '<TextLine id="l1" custom="readingOrder {index:0;} structure {type:heading;}">'
        '<Coords points="10,20 190,20 190,50 10,50"/>'
        "<TextEquiv><Unicode>first line</Unicode></TextEquiv></TextLine>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><PcGts xmlns="{PAGE_NS[version]}">'
        f'<Page imageFilename="{image}" imageWidth="200" imageHeight="200">'
        '<ReadingOrder><OrderedGroup id="g"><RegionRefIndexed index="0" regionRef="r1"/>'
        '<RegionRefIndexed index="1" regionRef="r2"/></OrderedGroup></ReadingOrder>'
        '<TextRegion id="r2" type="marginalia"><Coords points="0,150 200,150 200,199 0,199"/>'
        '<TextLine id="m1"><Coords points="10,160 100,160 100,190 10,190"/>'
        "<TextEquiv><Unicode>margin</Unicode></TextEquiv></TextLine></TextRegion>"
        f'<TextRegion id="r1" type="paragraph"><Coords points="0,0 200,0 200,100 0,100"/>{lines}'
        "</TextRegion></Page></PcGts>"
    )


ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
 <Description><MeasurementUnit>pixel</MeasurementUnit>
  <sourceImageInformation><fileName>p.png</fileName></sourceImageInformation></Description>
 <Tags><OtherTag ID="T1" LABEL="DefaultLine:Handwritten"/><OtherTag ID="T2" LABEL="Print"/></Tags>
 <Layout><Page WIDTH="200" HEIGHT="200" ID="p"><PrintSpace>
  <TextBlock ID="b1">
   <TextLine ID="a1" TAGREFS="T2" BASELINE="10 45 190 45" HPOS="10" VPOS="20" WIDTH="180"
      HEIGHT="30"><String CONTENT="LETTER"/><SP/><String CONTENT="HEAD"/></TextLine>
   <TextLine ID="a2" TAGREFS="T1" BASELINE="10,85 190,85">
    <Shape><Polygon POINTS="10 60 190 60 190 90 10 90"/></Shape>
    <String CONTENT="28^th of May"/></TextLine>
   <TextLine ID="a3" TAGREFS="T1" HPOS="10" VPOS="120" WIDTH="50" HEIGHT="20">
    <String CONTENT=""/></TextLine>
  </TextBlock></PrintSpace></Page></Layout></alto>
"""


def page_image(path: Path) -> np.ndarray:
    img = np.full((200, 200), 230, np.uint8)
    cv2.putText(img, "first", (15, 45), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 30, 2)
    cv2.putText(img, "second", (15, 85), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 30, 2)
    cv2.putText(img, "margin", (15, 185), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 30, 2)
    cv2.imwrite(str(path), img)
    return img
