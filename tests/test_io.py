from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htrbatch.errors import InputError
from htrbatch.io import expand_inputs, iter_pages, read_pages, write_atomic


def test_reads_rgb_png_as_gray(tmp_path: Path) -> None:
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :30] = 255
    Image.fromarray(arr).save(tmp_path / "a.png")
    (page,) = read_pages(tmp_path / "a.png")
    assert page.image.shape == (40, 60) and page.image.dtype == np.uint8
    assert page.image[0, 0] == 255 and page.image[0, 59] == 0 and page.page is None


def test_alpha_goes_on_white_and_16bit_is_scaled(tmp_path: Path) -> None:
    rgba = np.zeros((20, 20, 4), np.uint8)  # fully transparent black -> white paper
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert read_pages(tmp_path / "t.png")[0].image.min() == 255
    deep = np.full((20, 20), 65535, np.uint16)
    deep[5, 5] = 0
    Image.fromarray(deep).save(tmp_path / "d.png")
    img = read_pages(tmp_path / "d.png")[0].image
    assert img[0, 0] == 255 and img[5, 5] == 0


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.fromarray(np.zeros((10, 30), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: the stored 30x10 image displays as 10x30
    img.save(tmp_path / "r.jpg", exif=exif)
    assert read_pages(tmp_path / "r.jpg")[0].image.shape == (30, 10)


def test_multipage_tiff(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((20, 20), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "m.tif", save_all=True, append_images=frames[1:])
    pages = read_pages(tmp_path / "m.tif")
    assert [p.page for p in pages] == [1, 2]
    assert pages[1].stem_suffix == "-p2" and pages[1].image[0, 0] == 200


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.png", b"", "empty"),
        ("text.jpg", b"this is not an image\n", "not an image"),
        (
            "noise.tif",
            bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)),
            "not an image",
        ),
    ],
)
def test_bad_files_raise_input_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_pages(p)
    assert name in str(info.value) and reason in str(info.value)


def test_tiny_image_is_rejected(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "dot.png")
    with pytest.raises(InputError, match="too small"):
        read_pages(tmp_path / "dot.png")


def test_expand_inputs_dirs_stdin_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for n in ("d/b.png", "d/a.png", "d/sub/c.jpg", "d/notes.txt"):
        (tmp_path / n).write_bytes(b"x")
    import io

    stdin = io.StringIO(f"{tmp_path / 'd/a.png'}\n\n{tmp_path / 'gone.png'}\n")
    files, errors = expand_inputs([str(tmp_path / "d"), "-"], stdin)
    assert [f.path.name for f in files] == ["a.png", "b.png", "c.jpg"]  # sorted, deduplicated
    assert {f.root for f in files} == {tmp_path / "d"}  # found in d: first reached there
    files, _ = expand_inputs(["-", str(tmp_path / "d")], io.StringIO(f"{tmp_path / 'd/a.png'}\n"))
    assert [(f.path.name, f.root) for f in files][:2] == [
        ("a.png", None),
        ("b.png", tmp_path / "d"),
    ]
    assert len(errors) == 1 and "gone.png" in str(errors[0])


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    write_atomic(tmp_path / "o" / "x.txt", "hello")
    write_atomic(tmp_path / "o" / "x.txt", "again")
    assert (tmp_path / "o" / "x.txt").read_text() == "again"
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["x.txt"]


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (a decompression bomb), with no real pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_huge_image_is_refused_before_decoding(tmp_path: Path) -> None:
    _png_header_only(tmp_path / "huge.png", 50_000, 50_000)
    with pytest.raises(InputError, match="over the limit") as info:
        read_pages(tmp_path / "huge.png")
    assert "huge.png" in str(info.value)


def _tiff_by_hand(path: Path, frames: list[tuple[int, int, bytes]]) -> None:
    """A multi-page 8-bit grayscale TIFF written tag by tag. Each frame is (width, height, pixels);
    pixels shorter than width * height make a frame that declares more than it holds, which is
    all a decompression bomb needs (nothing is allocated to write it)."""
    import struct

    out = bytearray(b"II*\x00\x00\x00\x00\x00")  # little-endian; first IFD offset patched below
    link = 4  # where the offset of the next IFD goes
    for w, h, pixels in frames:
        data_at = len(out)
        out += pixels
        if len(out) % 2:
            out += b"\x00"
        struct.pack_into("<I", out, link, len(out))
        tags = [  # (tag, type 3 = SHORT / 4 = LONG, value), sorted by tag
            (256, 4, w),  # ImageWidth
            (257, 4, h),  # ImageLength
            (258, 3, 8),  # BitsPerSample
            (259, 3, 1),  # Compression: none
            (262, 3, 1),  # PhotometricInterpretation: black is zero
            (273, 4, data_at),  # StripOffsets
            (277, 3, 1),  # SamplesPerPixel
            (278, 4, h),  # RowsPerStrip
            (279, 4, w * h),  # StripByteCounts (as declared)
        ]
        out += struct.pack("<H", len(tags))
        for tag, kind, value in tags:
            out += struct.pack("<HHI", tag, kind, 1)
            out += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        link = len(out)
        out += b"\x00\x00\x00\x00"
    path.write_bytes(bytes(out))


def test_oversized_later_tiff_page_is_refused_before_decoding(tmp_path: Path) -> None:
    small = bytes(range(256)) * 2 + bytes(112)  # 24 x 26 gray page
    _tiff_by_hand(tmp_path / "bomb.tif", [(24, 26, small), (40_000, 40_000, b"")])
    with pytest.raises(InputError) as info:
        next(iter_pages(tmp_path / "bomb.tif"))  # refused before even the first page is decoded
    msg = str(info.value)
    assert "bomb.tif" in msg and "page 2 of 2" in msg and "40000x40000" in msg
    assert "over the limit" in msg


def test_hand_written_tiff_pages_come_one_by_one(tmp_path: Path) -> None:
    a, b = bytes(range(24)) * 26, bytes([200]) * (30 * 10)
    _tiff_by_hand(tmp_path / "two.tif", [(24, 26, a), (30, 10, b)])
    pages = iter_pages(tmp_path / "two.tif")
    first = next(pages)
    assert first.page == 1 and first.image.shape == (26, 24) and first.image[0, 5] == 5
    second = next(pages)
    assert second.page == 2 and second.image.shape == (10, 30) and second.image.min() == 200
    assert next(pages, None) is None
    assert [p.image.shape for p in read_pages(tmp_path / "two.tif")] == [(26, 24), (10, 30)]
