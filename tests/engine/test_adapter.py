import numpy as np
import pytest
import torch

from animeinterp_cli.engine.adapter import as_uint8, crop_to, frames_to_tensor, pad_to_multiple, quantize, tensor_to_float_frames


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_frames_round_trip_exactly(rng, dtype):
    top = np.iinfo(dtype).max
    frames = [rng.integers(0, top + 1, (5, 7, 3), dtype=dtype) for _ in range(2)]
    tensor = frames_to_tensor(frames, torch.device("cpu"))
    assert tensor.shape == (2, 3, 5, 7) and tensor.dtype == torch.float32
    assert 0 <= tensor.min() and tensor.max() <= 1
    back = [quantize(f, dtype) for f in tensor_to_float_frames(tensor)]
    for original, restored in zip(frames, back):
        assert restored.dtype == dtype
        np.testing.assert_array_equal(original, restored)


@pytest.mark.parametrize("size", [(361, 641), (8, 8), (1, 3)])
def test_pad_then_crop_restores_odd_sizes(size):
    tensor = torch.rand(1, 3, *size)
    padded, original = pad_to_multiple(tensor, 8)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert original == size
    torch.testing.assert_close(crop_to(padded, original), tensor, rtol=0, atol=0)
    # the padding replicates the last row and column
    torch.testing.assert_close(padded[..., -1, : size[1]], tensor[..., -1, :], rtol=0, atol=0)


def test_quantize_rounds_to_nearest_and_clips():
    image = np.array([[[0.0, 0.6 / 255, 1.2]]], np.float32)
    np.testing.assert_array_equal(quantize(image, np.uint8), [[[0, 1, 255]]])


def test_as_uint8_keeps_8_bit_frames_and_rounds_16_bit_ones():
    frame8 = np.full((2, 2, 3), 7, np.uint8)
    assert as_uint8(frame8) is frame8
    frame16 = np.array([[[0, 257 * 10, 65535]]], np.uint16)
    np.testing.assert_array_equal(as_uint8(frame16), [[[0, 10, 255]]])
    assert as_uint8(np.array([[[385, 386, 0]]], np.uint16)).tolist() == [[[1, 2, 0]]]  # 385/257 = 1.498, 386/257 = 1.502
