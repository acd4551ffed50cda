import cv2
import numpy as np
import pytest

from conftest import cc0_path, cc0_rows
from edge.errors import BadImage
from edge.vision.imageio import read_image


def test_reads_a_real_photo():
    img = read_image(cc0_path(cc0_rows("Shoes", 1)[0]))
    assert img.ndim == 3 and img.dtype == np.uint8


def test_truncated_jpeg(tmp_path):
    data = cc0_path(cc0_rows("Shoes", 1)[0]).read_bytes()
    p = tmp_path / "cut.jpg"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadImage, match="truncated"):
        read_image(p)


@pytest.mark.parametrize("content, reason", [
    (b"", "empty"), (b"GIF89a nonsense", "not an image"), (b"%PDF-1.4\n", "not an image")])
def test_bad_files(tmp_path, content, reason):
    p = tmp_path / "x.jpg"
    p.write_bytes(content)
    with pytest.raises(BadImage, match=reason):
        read_image(p)


def test_huge_and_tiny_dimensions(tmp_path):
    ok, png = cv2.imencode(".png", np.zeros((6000, 7000), np.uint8))   # 42 Mpx of zeros: a small file
    (tmp_path / "huge.png").write_bytes(png.tobytes())
    with pytest.raises(BadImage, match="larger than|cannot be decoded|not an image"):
        read_image(tmp_path / "huge.png")
    ok, png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "tiny.png").write_bytes(png.tobytes())
    with pytest.raises(BadImage, match="too small"):
        read_image(tmp_path / "tiny.png")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(BadImage, match="not a file"):
        read_image(tmp_path)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"])
def test_the_header_gives_the_size_without_decoding(ext):
    """The pixel limit is checked on the header's size (edge/vision/imageio.header_size) before
    anything is decoded: each format OpenCV writes here says its true width and height."""
    import cv2
    import numpy as np
    from edge.vision.imageio import header_size
    img = np.zeros((37, 53, 3) if ext != ".pgm" else (37, 53), np.uint8)
    ok, data = cv2.imencode(ext, img)
    assert ok and header_size(data.tobytes()) == (53, 37)
    assert header_size(b"not an image at all") is None
