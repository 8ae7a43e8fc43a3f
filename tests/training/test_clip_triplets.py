"""Real training triplets cut from clips: only moving, uncut stretches; ATD-12K layout."""

from fractions import Fraction

import av
import numpy as np
import pytest

from animeinterp_cli.benchmark.datasets import find_dataset, load_frames
from animeinterp_cli.training.clip_triplets import extract_triplets, main
from animeinterp_cli.video.decode import read_frames
from tests.clipgen import frame_picture

SIZE = (160, 96)


def write_clip(path, pictures):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(24), options={"crf": "10"})
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for picture in pictures:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def clip(tmp_path):
    disc = [frame_picture(4 * k, SIZE, "disc") for k in range(10)]  # 12 px per step
    noise = frame_picture(0, SIZE, "noise")
    # frames: d0..d5, d5 held twice, d6..d9, a cut to noise, noise held
    pictures = disc[:6] + [disc[5], disc[5]] + disc[6:] + [noise, noise]
    return write_clip(tmp_path / "toon.mp4", pictures)


def test_triplets_come_only_from_moving_uncut_stretches(tmp_path, clip):
    out = tmp_path / "triplets"
    assert extract_triplets(clip, out, every=1) == 7
    names = sorted(p.name for p in out.iterdir())
    # middles 1–4 (before the hold), 8–10 (after it); 11 would straddle the cut
    assert names == [f"toon_{i:05d}" for i in (1, 2, 3, 4, 8, 9, 10)]
    dataset = find_dataset(out)
    decoded = [frame.image for frame in read_frames(clip)]  # as the tool decodes them
    for triplet, middle in zip(dataset.triplets, (1, 2, 3, 4, 8, 9, 10)):
        frames = load_frames(triplet)
        for offset, frame in zip((-1, 0, 1), frames):
            np.testing.assert_array_equal(frame, decoded[middle + offset])


def test_every_and_max_width(tmp_path, clip):
    out = tmp_path / "triplets"
    assert extract_triplets(clip, out, every=3, max_width=80) == 3  # eligible 0, 3, 6 of 7
    (first, *_) = find_dataset(out).triplets
    assert load_frames(first)[0].shape == (48, 80, 3)


def test_command_refuses_an_empty_folder_and_bad_numbers(tmp_path, clip, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "out")]) == 1
    assert "no video clips" in capsys.readouterr().err
    assert main([str(clip), str(tmp_path / "out"), "--every", "0"]) == 1
    assert main([str(clip), str(tmp_path / "out")]) == 0
    assert f"wrote 3 triplets to {tmp_path / 'out'}" in capsys.readouterr().out
