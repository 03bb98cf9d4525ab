"""The IAM-OnDB reader and renderers on the real archives in ../shared/data/iam-ondb.

Marked ``shared``: skipped (see conftest) where ../shared is absent; CI has it beside the clone.
"""

from __future__ import annotations

import numpy as np
import pytest

from htrbatch.data.iamondb import IamOnDB, read_iamondb, read_split_list
from htrbatch.data.pages import group_forms, render_page
from htrbatch.data.render import render_line, sample_style
from tests.conftest import SHARED

pytestmark = pytest.mark.shared

IAMONDB = SHARED / "data" / "iam-ondb"


@pytest.fixture(scope="module")
def testset_v() -> IamOnDB:
    return read_iamondb(IAMONDB, "testset_v")


def test_testset_v_lines_from_the_real_archives(testset_v: IamOnDB) -> None:
    # the distribution's README: testset_v is 192 forms, about 1,438 lines
    forms = read_split_list(IAMONDB, "testset_v")
    assert len(forms) == 192
    assert len(testset_v.lines) == 1438 and testset_v.skipped == 0
    assert {line.form for line in testset_v.lines} == forms
    ids = [line.id for line in testset_v.lines]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    first = testset_v.lines[0]
    assert (first.id, first.text) == ("a01-003-01", "Though they may gather some")
    for line in testset_v.lines:
        assert line.text == line.text.strip() and "  " not in line.text
        assert line.strokes and all(s.dtype == np.float32 and s.shape[1] == 3 for s in line.strokes)
        assert min(float(s[:, 2].min()) for s in line.strokes) == 0.0  # times from the first point


def test_a_few_real_lines_render(testset_v: IamOnDB) -> None:
    rng = np.random.default_rng(0)
    for line in testset_v.lines[:3]:
        image = render_line(line.strokes, sample_style(rng), rng)
        assert image.dtype == np.uint8 and image.ndim == 2
        h, w = image.shape
        assert w > 3 * h  # a line of several words is much wider than tall
        assert (image < 128).mean() > 0.005 and np.median(image) > 128  # ink on light paper


def test_a_real_form_renders_as_a_page_with_its_lines(testset_v: IamOnDB) -> None:
    form = group_forms(testset_v.lines)[0]
    page = render_page(form, np.random.default_rng(1), style="scan")
    assert page.form == form[0].form and page.style == "scan"
    assert [ln.id for ln in page.lines] == [ln.id for ln in form]
    assert page.text == "\n".join(ln.text for ln in form)
    h, w = page.image.shape
    tops = []
    for ln in page.lines:
        x0, y0, x1, y1 = ln.bbox
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert (page.image[y0:y1, x0:x1] < 128).any()  # the box holds ink
        tops.append(y0)
    assert tops == sorted(tops)  # reading order, top to bottom
