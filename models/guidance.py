"""Dense initial-flow guidance: OpenCV DIS optical flow (Kroeger et al., ECCV 2016).

The one home of the DIS guidance that the classic method, the network pipelines and training
all use, so that training and inference provably see the same initial flows.

Conventions: frames (H, W, 3) uint8 RGB; DIS runs on their BT.601 grey levels (OpenCV's);
flows (2, H, W) float32 in pixels of the frame, channel 0 = x, from the first frame to the
second (backward-warping convention: the point at p in frame 0 is at p + flow01(p) in frame 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class DISConfig:
    """``preset``: OpenCV DIS preset ("ultrafast", "fast", "medium"; medium is the most
    accurate). ``max_side``: DIS runs on frames downscaled so that their longer side is at most
    this (flows are rescaled back), which keeps 1080p and 4K fast and helps with large motion."""

    preset: str = "medium"
    max_side: int = 1024

    def __post_init__(self) -> None:
        if self.preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {self.preset!r}; choose one of {list(DIS_PRESETS)}")
        if self.max_side < 16:
            raise ValueError(f"DISConfig.max_side must be at least 16, got {self.max_side}")


def to_grey_uint8(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB → (H, W) uint8 luma (BT.601 weights, OpenCV's)."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def dis_flow(grey0: np.ndarray, grey1: np.ndarray, config: DISConfig = DISConfig()) -> np.ndarray:
    """DIS optical flow from ``grey0`` to ``grey1`` (H, W uint8) → (2, H, W) float32 pixels, x first."""
    height, width = grey0.shape
    scale = min(1.0, config.max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey0 = cv2.resize(grey0, size, interpolation=cv2.INTER_AREA)
        grey1 = cv2.resize(grey1, size, interpolation=cv2.INTER_AREA)
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[config.preset])  # pyright: ignore[reportAttributeAccessIssue] - not in OpenCV's stubs
    flow = dis.calc(grey0, grey1, None)  # (h, w, 2)
    if scale < 1.0:
        small_h, small_w = flow.shape[:2]
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= width / small_w
        flow[..., 1] *= height / small_h
    return np.ascontiguousarray(flow.transpose(2, 0, 1), dtype=np.float32)


def dis_flows(frame0: np.ndarray, frame1: np.ndarray, config: DISConfig = DISConfig()) -> tuple[np.ndarray, np.ndarray]:
    """DIS flows of one RGB pair both ways: (flow01, flow10)."""
    grey0, grey1 = to_grey_uint8(frame0), to_grey_uint8(frame1)
    return dis_flow(grey0, grey1, config), dis_flow(grey1, grey0, config)
