"""The command-line options of chunked runs, shared by ``double`` and ``batch``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

ChunkSeconds = Annotated[
    float,
    typer.Option(
        "--chunk-seconds",
        min=0,
        help="Make a video longer than this in chunks of about this many seconds, cut at scene cuts, each "
        "kept in a work folder next to the output until the end (0: one piece). An interrupted run "
        "continues with --resume.",
    ),
]
Resume = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue an interrupted chunked run from its work folder (.NAME.work next to the output): "
        "finished chunks are checked and kept, the rest is made.",
    ),
]
# (help texts are rich markup: "\\[" shows a "[")
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        help="Chunks made at once, each by a Ray worker that holds the model (one GPU each, or a share of "
        "the CPU cores). More than 1 needs Ray: pip install -e \".\\[cluster]\".",
    ),
]
RayAddress = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address",
        help="Join this Ray cluster (HOST:6379 of its head node, or auto) instead of starting Ray on this machine.",
    ),
]
