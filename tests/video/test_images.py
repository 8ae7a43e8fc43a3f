"""Image sequences: natural listing, exact PNG round trip, RGB order, bad inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from animeinterp_cli.errors import InputError
from animeinterp_cli.video.images import list_images, natural_key, read_image, write_png


def test_natural_order_and_suffixes(tmp_path):
    names = ["frame10.png", "frame2.PNG", "frame1.jpg", "Frame3.webp", "frame20.JPEG", "frame100.png"]
    for name in names + ["notes.txt", ".hidden.png"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "frame5.png").mkdir()  # a folder is not an image
    listed = [p.name for p in list_images(tmp_path)]
    assert listed == ["frame1.jpg", "frame2.PNG", "Frame3.webp", "frame10.png", "frame20.JPEG", "frame100.png"]


def test_natural_key_compares_numbers_by_value():
    assert sorted(["a10b", "a9b", "a09c", "b1"], key=natural_key) == ["a9b", "a09c", "a10b", "b1"]


def test_listing_errors(tmp_path):
    with pytest.raises(InputError, match="input folder not found"):
        list_images(tmp_path / "missing")
    afile = tmp_path / "a.png"
    afile.write_bytes(b"")
    with pytest.raises(InputError, match="input is not a folder"):
        list_images(afile)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no frames here")
    with pytest.raises(InputError, match="no images .* in .*empty"):
        list_images(empty)


def test_png_round_trip_is_exact(tmp_path, rng):
    image = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    path = tmp_path / "exact.png"
    write_png(path, image)
    back = read_image(path)
    assert back.dtype == np.uint8 and np.array_equal(back, image)


def test_channels_are_rgb(tmp_path):
    # OpenCV stores BGR: a pure red pixel written by OpenCV itself must read back as red.
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 255
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [255, 0, 0]
    write_png(tmp_path / "red2.png", read_image(tmp_path / "red.png"))
    assert cv2.imread(str(tmp_path / "red2.png"))[0, 0].tolist() == [0, 0, 255]


def test_grey_and_alpha_images_become_rgb(tmp_path):
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((3, 4), 77, np.uint8))
    assert read_image(tmp_path / "grey.png").tolist() == np.full((3, 4, 3), 77).tolist()
    bgra = np.zeros((3, 4, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 10  # blue, nearly transparent: alpha is dropped
    cv2.imwrite(str(tmp_path / "alpha.png"), bgra)
    assert read_image(tmp_path / "alpha.png")[0, 0].tolist() == [0, 0, 200]


def test_unreadable_images(tmp_path):
    with pytest.raises(InputError, match="cannot read image .*missing.png"):
        read_image(tmp_path / "missing.png")
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(InputError, match="cannot read image .*fake.png: not a readable image"):
        read_image(fake)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="empty.jpg"):
        read_image(tmp_path / "empty.jpg")


def test_write_png_checks_the_array(tmp_path):
    with pytest.raises(ValueError, match="H×W×3"):
        write_png(tmp_path / "x.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="H×W×3"):
        write_png(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32))


def test_write_png_names_the_real_output_in_its_messages(tmp_path):
    from animeinterp_cli.errors import OutputError

    hidden = tmp_path / ".out.partial-0123abcd" / "00000001.png"  # its folder is gone: the write fails
    with pytest.raises(OutputError) as caught:
        write_png(hidden, np.zeros((4, 4, 3), np.uint8), name=tmp_path / "out" / "00000001.png")
    assert str(tmp_path / "out" / "00000001.png") in str(caught.value) and "partial" not in str(caught.value)
