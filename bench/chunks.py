"""The figures of chunked runs: chunks vs one piece, SIGINT then --resume, batch on local Ray.

Three measurements, each on clips it generates (flat-colour shots with real cuts, H.264 +
AAC, from ``tests/chunks/clips.py``), every run of the tool a separate process:

1. **chunks = one piece** — ``double --chunk-seconds 2`` and ``--chunk-seconds 0`` (one piece)
   on a 10 s clip with 3 cuts (shots of 2.5, 3, 2 and 2.5 s), classic method, ``--crf 0``
   (lossless, so pictures compare exactly): the chunk starts (recorded from the driver's
   split), whether they are all cut times, and the two outputs' frame counts, video
   timestamps, audio packets (pts and bytes), decoded pictures, and ffmpeg's decode errors.
2. **SIGINT then --resume** — ``double --chunk-seconds 2`` on the same clip is sent SIGINT as
   soon as the manifest marks a chunk done; the kept chunk files' inodes are noted, then the
   same command with ``--resume`` runs. Both runs log every chunk their process encodes (a
   wrapper around ``ChunkMaker.make``, the one place chunks are made in-process), so the
   figure is counted, not inferred: chunks encoded by run 1, by run 2, and their overlap
   (must be 0), the kept files' inodes unchanged until the resume started, the output's frame
   count and timestamps vs the one-piece run, and the wall times.
3. **batch on Ray** — ``batch a.mp4 b.mkv --out-dir out --workers 2`` (local Ray, started by
   the tool) on two short clips, and each output compared with its one-piece run.

Usage (from the repository root; 3 needs the ``cluster`` extra)::

    .venv/bin/python bench/chunks.py [--only 1,2,3] [--model classic] [--size 96x64] [--keep DIR]

Measured 2026-12-02 with the defaults (x86-64 CPU, no GPU, shared with other jobs: load 3–4,
this run held to one core; about a minute): 1. chunk starts 0, 5/2, 11/2, 15/2 s = 0 and the
3 cut times; 480 frames in both outputs, timestamps identical, all 470 audio packets identical,
pictures identical, no ffmpeg decode error. 2. run 1 stopped (exit 130) with 1 of 4 chunks
kept; the resume encoded the other 3 and none again, the kept file's inode unchanged, output
timestamps and audio identical to one piece (with ``--size 640x360``: interrupted 18.4 s +
resumed 38.5 s = 56.9 s, one piece 56.9 s). 3. two outputs (176 and 104 frames), chunks "on 2
workers", timestamps, audio/subtitle packets and pictures identical to their one-piece runs,
no decode error; 29 s wall with Ray's start-up (the clips are tiny).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHOTS = [60, 72, 48, 60]


def child(log: str, argv: list[str]) -> None:
    """Run the CLI in this process, logging the driver's chunk starts and every chunk encoded."""
    from animeinterp_cli import cli
    from animeinterp_cli.chunks import driver, worker

    def write(record: dict) -> None:
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    split = driver.split_plan

    def logged_split(*args, **kwargs):
        chunks = split(*args, **kwargs)
        write({"split": [str(c.start) for c in chunks]})
        return chunks

    make = worker.ChunkMaker.make

    def logged_make(self, task, dest, tick=lambda n: None):
        result = make(self, task, dest, tick)
        write({"made": task.chunk, "pid": os.getpid()})
        return result

    driver.split_plan = logged_split
    worker.ChunkMaker.make = logged_make
    sys.argv = ["animeinterp", *argv]
    cli.main()


def tool(args: list, log: Path | None = None, **popen) -> subprocess.Popen:
    command = [sys.executable, __file__, "--child", str(log)] if log else [sys.executable, "-m", "animeinterp_cli"]
    return subprocess.Popen([*command, *map(str, args)], cwd=REPO, stderr=subprocess.PIPE, text=True, **popen)


def finish(process: subprocess.Popen, what: str) -> str:
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{what} failed ({process.returncode}): {err.strip()[-500:]}")
    return err


def records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def described(path: Path) -> dict:
    import av

    with av.open(str(path)) as container:
        others = [s for s in container.streams if s.type != "video"]
        copied = [(p.stream.index, p.pts, bytes(p)) for p in container.demux(*others) if p.size]
    with av.open(str(path)) as container:
        pts = [frame.pts for frame in container.decode(video=0)]
    return {"pts": pts, "copied": copied}


def same_pictures(a: Path, b: Path) -> bool:
    import numpy as np

    from animeinterp_cli.video.decode import read_frames

    pairs = list(zip(read_frames(a), read_frames(b)))
    return all(np.array_equal(x.image, y.image) for x, y in pairs)


def ffmpeg_errors(path: Path) -> str:
    import imageio_ffmpeg

    run = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return run.stderr.strip() or "none"


def compare(label: str, one: Path, other: Path, lossless: bool) -> None:
    a, b = described(one), described(other)
    print(f"  {label}: frames {len(b['pts'])} vs {len(a['pts'])} one-piece; timestamps "
          f"{'identical' if a['pts'] == b['pts'] else 'DIFFERENT'}; audio/subtitle packets "
          f"{'identical' if a['copied'] == b['copied'] else 'DIFFERENT'} ({len(b['copied'])})"
          + (f"; pictures {'identical' if same_pictures(one, other) else 'DIFFERENT'}" if lossless else "")
          + f"; ffmpeg decode errors: {ffmpeg_errors(other)}")  # fmt: skip


def one_piece(clip: Path, out: Path, model: str, extra=()) -> float:
    started = time.perf_counter()
    finish(tool(["double", clip, out, "--model", model, "--chunk-seconds", "0", "-q", *extra]), "one-piece run")
    return time.perf_counter() - started


def bar_chunks(folder: Path, clip: Path, model: str) -> None:
    from tests.chunks.clips import cut_frames

    print("1. --chunk-seconds 2 vs one piece, 10 s clip with 3 cuts (--crf 0)")
    one = folder / "one.mp4"
    seconds_one = one_piece(clip, one, model, ["--crf", "0"])
    chunked, log = folder / "chunked.mp4", folder / "chunked.log"
    started = time.perf_counter()
    finish(tool(["double", clip, chunked, "--model", model, "--crf", "0", "--chunk-seconds", "2", "-q"], log), "chunked")
    seconds = time.perf_counter() - started
    starts = [Fraction(s) for r in records(log) if "split" in r for s in r["split"]]
    cuts = [Fraction(f, 24) for f in cut_frames(SHOTS)]
    print(f"  chunk starts (s): {[str(s) for s in starts]}; cut times: {[str(c) for c in cuts]}; "
          f"all at cuts: {set(starts) <= {Fraction(0), *cuts}}")  # fmt: skip
    compare("chunked", one, chunked, lossless=True)
    print(f"  wall: one piece {seconds_one:.1f} s, chunked {seconds:.1f} s")


def bar_resume(folder: Path, clip: Path, model: str) -> None:
    print("2. SIGINT after the first finished chunk, then the same command with --resume")
    out = folder / "resumed.mp4"
    work = out.with_name(f".{out.name}.work")
    args = ["double", clip, out, "--model", model, "--chunk-seconds", "2"]
    first_log, second_log = folder / "run1.log", folder / "run2.log"
    started = time.perf_counter()
    process = tool(args, first_log)
    done: set[int] = set()
    while process.poll() is None:
        try:
            done = {c["index"] for c in json.loads((work / "manifest.json").read_text())["chunks"] if c["done"]}
        except (OSError, ValueError):
            pass
        if done:
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.01)
    _, err = process.communicate()
    first_seconds = time.perf_counter() - started
    manifest = json.loads((work / "manifest.json").read_text())
    kept = {c["index"]: (work / c["file"]).stat().st_ino for c in manifest["chunks"] if c["done"]}
    made_1 = [r["made"] for r in records(first_log) if "made" in r]
    print(f"  run 1: exit {process.returncode} after {first_seconds:.1f} s; chunks encoded {sorted(made_1)}; "
          f"kept in the work folder {sorted(kept)} of {len(manifest['chunks'])}")  # fmt: skip
    for line in err.strip().splitlines():
        if line.startswith(("note:", "warning:", "error:")):
            print(f"  run 1 said: {line}")
    inodes_unchanged = all((work / f"chunk-{i:05d}.mp4").stat().st_ino == ino for i, ino in kept.items())
    started = time.perf_counter()
    err = finish(tool([*args, "--resume"], second_log), "resume")
    second_seconds = time.perf_counter() - started
    made_2 = [r["made"] for r in records(second_log) if "made" in r]
    print(f"  run 2 (--resume): {second_seconds:.1f} s; chunks encoded {sorted(made_2)}; encoded again: "
          f"{sorted(set(made_1) & set(made_2)) or 'none'}; kept files' inodes unchanged: {inodes_unchanged}; "
          f"work folder left: {work.exists()}")  # fmt: skip
    print(f"  run 2 said: {err.strip().splitlines()[-1]}")
    one = folder / "one-lossy.mp4"
    seconds_one = one_piece(clip, one, model)
    compare("resumed", one, out, lossless=False)
    print(f"  wall: one piece {seconds_one:.1f} s; interrupted + resumed {first_seconds + second_seconds:.1f} s")


def bar_ray(folder: Path, model: str) -> None:
    from tests.chunks.clips import make_shots_clip

    print("3. batch a.mp4 b.mkv --out-dir out --workers 2 on a local Ray")
    a = make_shots_clip(folder / "a.mp4", [20, 26, 18, 24])
    b = make_shots_clip(folder / "b.mkv", [30, 22], subtitles=True)
    out = folder / "out"
    started = time.perf_counter()
    err = finish(tool(["batch", a, b, "--out-dir", out, "--workers", "2", "--model", model, "--chunk-seconds", "1",
                       "--crf", "0"]), "batch")  # fmt: skip
    seconds = time.perf_counter() - started
    for line in err.strip().splitlines():
        if line.startswith("done:") or line.startswith("note:"):
            print(f"  said: {line}")
    print(f"  outputs: {sorted(p.name for p in out.iterdir())}; wall {seconds:.1f} s (Ray start included)")
    for source in (a, b):
        one = folder / f"one-{source.name}"
        one_piece(source, one, model, ["--crf", "0"])
        compare(source.name, one, out / source.name, lossless=True)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:  # a run of the tool, logged (its own arguments untouched)
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3", help="which measurements, e.g. 2 or 1,3")
    parser.add_argument("--model", default="classic")
    parser.add_argument("--keep", type=Path, help="keep the clips and outputs in this folder")
    parser.add_argument("--size", default="96x64", help="frame size of the generated 10 s clip, WxH")
    known = parser.parse_args()
    from tests.chunks.clips import make_shots_clip

    folder = known.keep or Path(tempfile.mkdtemp(prefix="animeinterp-chunks-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        width, height = (int(v) for v in known.size.split("x"))
        clip = make_shots_clip(folder / "cuts.mp4", SHOTS, rate=Fraction(24), size=(width, height))
        wanted = set(known.only.split(","))
        if "1" in wanted:
            bar_chunks(folder, clip, known.model)
        if "2" in wanted:
            bar_resume(folder, clip, known.model)
        if "3" in wanted:
            bar_ray(folder, known.model)
    finally:
        if known.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
