"""Pure geometry functions (grids, warping, splatting) shared by every method."""

from models.ops.grid import coords_grid, resize_flow
from models.ops.splat import forward_splat
from models.ops.warp import backward_warp

__all__ = ["backward_warp", "coords_grid", "forward_splat", "resize_flow"]
