"""Conversions between the video layer's frames and the models' tensors.

Frames are (H, W, 3) RGB numpy arrays, uint8 (8-bit sources) or uint16 (deeper sources,
full 0..65535 scale). Model tensors are (B, 3, H, W) float32 RGB in [0, 1]. Padding uses
edge replication to a multiple of the model's ``size_multiple``; cropping restores the
original size exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing
import torch
import torch.nn.functional as F


def full_scale(dtype: np.dtype) -> float:
    """The value that means 1.0 for an integer image dtype (255 for uint8, 65535 for uint16)."""
    return float(np.iinfo(dtype).max)


def frames_to_tensor(frames: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stack (H, W, 3) integer frames into a (B, 3, H, W) float32 tensor in [0, 1] on ``device``."""
    stacked = np.stack(frames)
    scale = full_scale(stacked.dtype)
    if stacked.dtype == np.uint16:  # torch has limited uint16 support: go through int32
        stacked = stacked.astype(np.int32)
    tensor = torch.from_numpy(stacked).to(device, non_blocking=True)
    return tensor.permute(0, 3, 1, 2).float().div_(scale)


def tensor_to_float_frames(tensor: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [0, 1] → list of (H, W, 3) float32 arrays, clamped, not quantised."""
    array = tensor.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return list(array)


def quantize(image: np.ndarray, dtype: np.typing.DTypeLike) -> np.ndarray:
    """Float (H, W, 3) in [0, 1] → integer frame of ``dtype`` with rounding to nearest."""
    scale = full_scale(np.dtype(dtype))
    return np.clip(np.rint(image * scale), 0, scale).astype(dtype)


def as_uint8(frame: np.ndarray) -> np.ndarray:
    """The 8-bit view of a uint8/uint16 frame (for the CPU stages that work on 8 bits)."""
    if frame.dtype == np.uint8:
        return frame
    return quantize(frame.astype(np.float32) / full_scale(frame.dtype), np.uint8)


def pad_to_multiple(tensor: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W at the bottom/right by edge replication up to a multiple; returns the original (H, W)."""
    height, width = tensor.shape[-2:]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if pad_h or pad_w:
        tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode="replicate")
    return tensor, (height, width)


def crop_to(tensor: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size`` = (H, W)."""
    height, width = size
    return tensor[..., :height, :width]
