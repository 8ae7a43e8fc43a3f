"""End to end on real anime: ../shared/samples/clips/onepiece_demo.mp4.

One Piece, 640×480 at 1199/50 fps, 181 frames, AAC audio, animated on threes, a hard cut near
frame 99 and a still at the end. Doubled with the default pipeline (classic method here: no
weights are assumed), every stream is inspected.
"""

from fractions import Fraction

import av
import numpy as np
import pytest

from tests.test_cli import run_cli, streams


@pytest.mark.slow
def test_onepiece_demo_doubles_with_audio_and_a_clean_cut(samples, tmp_path, capsys):
    clip = samples / "clips" / "onepiece_demo.mp4"
    out = tmp_path / "onepiece_2x.mp4"
    code, err = run_cli(capsys, "double", clip, out, "--model", "classic", "--preset", "ultrafast")
    assert code == 0, err
    source, result = streams(clip), streams(out)
    assert result["rate"] == Fraction(1199, 25)
    assert len(result["pts"]) == 2 * 181
    assert abs(result["duration"] - source["duration"]) <= 1 / result["rate"]
    assert len(result["audio"]) == 1
    assert result["audio"][0] == pytest.approx(source["audio"][0], abs=float(1 / result["rate"]))
    assert "1 scene cuts" in err, err

    # around the cut every output frame belongs to one shot: it is close to an input frame of
    # its own shot (in-betweens included), never half-way between the two shots
    with av.open(str(clip)) as container:
        inputs = [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]
    with av.open(str(out)) as container:
        outputs = [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]
    cut = int(np.argmax([np.abs(b - a).mean() for a, b in zip(inputs, inputs[1:])]))  # last frame of shot 1
    assert 90 <= cut <= 105
    shot_gap = np.abs(inputs[cut + 1] - inputs[cut]).mean()
    near = inputs[cut - 3 : cut + 5]
    for k in range(2 * cut - 4, 2 * cut + 6):
        closest = min(np.abs(outputs[k] - frame).mean() for frame in near)
        assert closest < shot_gap / 5, f"output frame {k} mixes the two shots"
