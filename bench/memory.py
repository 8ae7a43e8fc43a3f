"""Peak memory of `animeinterp double` does not grow with the length of the video.

    .venv/bin/python bench/memory.py                  # 5 s and 60 s clips at 960x540, classic method
    .venv/bin/python bench/memory.py --model blend --seconds 5 60

Builds 960×540 clips of the given lengths by looping ``onepiece_demo.mp4`` (a real anime clip
with a cut and held drawings), runs the real CLI on each in a fresh process, and prints each
run's peak resident memory (the process's own ``ru_maxrss``) and their ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av
from clips import REPO, SAMPLE_CLIP, scaled_clip

# runs the CLI in this child process, then reports the child's own peak RSS (KiB on Linux)
_CHILD = """
import resource, sys
from animeinterp_cli import cli
sys.argv = ["animeinterp", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exit:
    if exit.code:
        raise
print("PEAK_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_kib(clip: Path, out: Path, model: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, "double", str(clip), str(out), "--model", model, "--quiet", "--overwrite",
         "--preset", "veryfast"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    line = next(text for text in result.stdout.splitlines() if text.startswith("PEAK_KIB"))
    return int(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[5, 60])
    parser.add_argument("--model", default="classic")
    args = parser.parse_args()
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for seconds in args.seconds:
            with av.open(str(SAMPLE_CLIP)) as source:
                rate = source.streams.video[0].average_rate
            clip = scaled_clip(tmp / f"clip{seconds}.mp4", (960, 540), int(seconds * rate))
            peaks[seconds] = peak_kib(clip, tmp / f"out{seconds}.mp4", args.model)
            print(f"{seconds:>4} s at 960x540, --model {args.model}: peak RSS {peaks[seconds] / 1024:.0f} MiB", flush=True)
    shortest, longest = min(peaks), max(peaks)
    ratio = peaks[longest] / peaks[shortest]
    print(f"peak {longest} s / peak {shortest} s = {ratio:.3f} ({'within' if ratio <= 1.10 else 'NOT within'} 10%)")


if __name__ == "__main__":
    main()
