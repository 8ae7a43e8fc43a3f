"""Runs an interpolation method on batches of frame pairs.

The motion of a pair (flows, features) is estimated once, then frames are synthesised for
every t the plan asks of that pair: a 4× run estimates each pair once, not three times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from animeinterp_cli.engine.adapter import as_uint8, crop_to, frames_to_tensor, pad_to_multiple, tensor_to_float_frames
from animeinterp_cli.engine.compile import compile_modules, uncompile_modules
from animeinterp_cli.engine.device import Placement, cpu_to_spare
from models.interpolator import FrameInterpolator, select_pairs


@dataclass(frozen=True)
class PairJob:
    """One pair of frames and the times wanted between them.

    ``frame0``/``frame1``: (H, W, 3) RGB uint8 or uint16; ``ts``: times in (0, 1);
    ``init_flows``: optional (flow01, flow10), each (2, H, W) float32 pixels, passed to methods
    that take an initial flow (AnimeInterp's SGM guidance).
    """

    frame0: np.ndarray
    frame1: np.ndarray
    ts: tuple[float, ...]
    init_flows: tuple[np.ndarray, np.ndarray] | None = None


class PairRunner:
    """Owns a method on a device; turns :class:`PairJob` batches into float frames."""

    def __init__(self, method: FrameInterpolator, placement: Placement, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        #: the one place a method is moved to its device and put in inference mode
        self.method = method.to(placement.device).eval()
        self.placement = placement
        self.batch_size = batch_size
        #: prepare the next batch's guidance while the network runs (see engine/execute.py)
        self.overlap_guidance = cpu_to_spare(placement)
        #: number of pairs whose motion was estimated (a pair counts once whatever its ts)
        self.pairs_estimated = 0
        self._compiled: list[torch.nn.Module] = []
        self._note: Callable[[str], None] = lambda message: None

    def enable_compile(self, note: Callable[[str], None]) -> bool:
        """Compile the method's hot submodules (see :mod:`animeinterp_cli.engine.compile`);
        compilation itself happens on the first batch. ``note`` hears of a fallback to eager.
        Returns False when the method has nothing to compile."""
        self._compiled = self.method.compile_targets()
        compile_modules(self._compiled, self.placement)
        self._note = note
        return bool(self._compiled)

    @property
    def compiled(self) -> bool:
        """Whether the method's submodules run compiled (False again after a fallback)."""
        return bool(self._compiled)

    def interpolate(
        self,
        frame0: np.ndarray,
        frame1: np.ndarray,
        ts: Sequence[float],
        *,
        init_flows: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Frames at ``ts`` between two frames: float32 (H, W, 3) RGB in [0, 1], not quantised."""
        return self.run([PairJob(frame0, frame1, tuple(ts), init_flows)])[0]

    def prepare(self, jobs: Sequence[PairJob]) -> list[PairJob]:
        """The jobs with their initial flows filled in by the method's CPU-side guidance
        (:meth:`FrameInterpolator.guidance`: SGM or DIS). Touches no device tensors, so the
        engine runs it in a worker thread for the next batch while the network runs this one."""
        prepared = []
        for job in jobs:
            if job.init_flows is None:
                flows = self.method.guidance(as_uint8(job.frame0), as_uint8(job.frame1))
                job = job if flows is None else replace(job, init_flows=flows)
            prepared.append(job)
        return prepared

    def run(self, jobs: Sequence[PairJob]) -> list[list[np.ndarray]]:
        """Outputs per job, in job order; pairs are processed ``batch_size`` at a time.

        With compilation on, any failure switches the method back to eager execution and the
        batch is run again: a genuine error (out of memory, bad input) then fails again, eagerly.
        """
        results: list[list[np.ndarray]] = []
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            try:
                results.extend(self._run_batch(batch))
            except Exception as error:  # noqa: BLE001 - compile errors have no common base class
                if not self._compiled:
                    raise
                uncompile_modules(self._compiled)
                self._compiled = []
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                self._note(f"torch.compile failed ({type(error).__name__}: {reason[:200]}); continuing without it")
                results.extend(self._run_batch(batch))
            self.pairs_estimated += len(batch)
        return results

    @torch.inference_mode()
    def _run_batch(self, jobs: Sequence[PairJob]) -> list[list[np.ndarray]]:
        device = self.placement.device
        multiple = self.method.size_multiple
        img0, size = pad_to_multiple(frames_to_tensor([j.frame0 for j in jobs], device), multiple)
        img1, _ = pad_to_multiple(frames_to_tensor([j.frame1 for j in jobs], device), multiple)
        init01 = init10 = None
        if any(j.init_flows is not None for j in jobs):
            init01, init10 = (pad_to_multiple(self._stack_flows(jobs, k), multiple)[0] for k in (0, 1))
        with self.placement.autocast():
            motion = self.method.estimate(img0, img1, init01, init10)

        # every (pair, t) request, synthesised batch_size at a time from the shared motion
        requests = [(p, t) for p, job in enumerate(jobs) for t in job.ts]
        outputs: list[np.ndarray] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start : start + self.batch_size]
            index = torch.tensor([p for p, _ in chunk], device=device)
            t = torch.tensor([t for _, t in chunk], device=device, dtype=torch.float32)
            with self.placement.autocast():
                frames = self.method.synthesize(
                    img0.index_select(0, index), img1.index_select(0, index), select_pairs(motion, index), t
                )
            outputs.extend(tensor_to_float_frames(crop_to(frames, size)))
        per_job, cursor = [], 0
        for job in jobs:
            per_job.append(outputs[cursor : cursor + len(job.ts)])
            cursor += len(job.ts)
        return per_job

    def _stack_flows(self, jobs: Sequence[PairJob], which: int) -> torch.Tensor:
        """Initial flows (``which`` 0: 0→1, 1: 1→0) of a batch as (B, 2, H, W), zeros where a job has none."""
        height, width = jobs[0].frame0.shape[:2]
        flows = [
            j.init_flows[which] if j.init_flows is not None else np.zeros((2, height, width), np.float32)
            for j in jobs
        ]
        return torch.from_numpy(np.stack(flows).astype(np.float32)).to(self.placement.device)
