"""Bad and unusual inputs through the real CLI, one process per case: what a new user meets.

Each case builds its input in a folder of its own, runs ``python -m animeinterp_cli`` on it
(as a user would run ``animeinterp``), and prints the exit code, whether a traceback was
printed, the files left behind in the output's folder, and the case's own checks (pixel
aspect ratio, languages, the warning, the refusal …); a summary line closes the table.

    .venv/bin/python bench/bad_inputs.py            # all cases
    .venv/bin/python bench/bad_inputs.py -k sig     # the cases whose name contains "sig"
    .venv/bin/python bench/bad_inputs.py --verbose  # also each case's stderr

Exit status 0 when every case behaved as expected, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.clipgen import faststart, make_clip, truncated, with_corrupt_packet  # noqa: E402

CLI = [sys.executable, "-m", "animeinterp_cli"]
FAST = ["--model", "blend", "--preset", "ultrafast"]


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass
class Run:
    """What one CLI run did."""

    code: int
    err: str
    folder: Path
    before: set[str]  # names in the folder before the run
    output: Path | None

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.err

    def left_behind(self) -> list[str]:
        """New files in the folder, but the output of a successful run."""
        new = sorted(set(os.listdir(self.folder)) - self.before)
        return [name for name in new if not (self.code == 0 and self.output is not None and name == self.output.name)]

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith(prefix)]


Check = Callable[[Run], tuple[str, bool]]  # → (what was checked, and how it came out; passed)


@dataclass
class Case:
    name: str
    make: Callable[[Path], tuple[list[str], Path | None]]  # folder → (CLI arguments, the output path)
    expect: int | tuple[int, ...]
    checks: list[Check] = field(default_factory=list)
    run: Callable[[list[str], Path], tuple[int, str]] | None = None  # instead of a plain run
    leaves: tuple[str, ...] = ()  # files this case is meant to leave (SIGKILL's partial)


# -- the checks ---------------------------------------------------------------------------


def warned(*words: str) -> Check:
    def check(run: Run) -> tuple[str, bool]:
        found = [line for line in run.lines("warning:") if all(w in line for w in words)]
        return ("warning" if found else "NO warning"), bool(found)

    return check


def no_warning(run: Run) -> tuple[str, bool]:
    found = run.lines("warning:")
    return ("no warning" if not found else f"UNEXPECTED {found[0][:60]}"), not found


def refused(*words: str, label: str = "refused") -> Check:
    """One error line (the CLI's ``error:`` or Typer's usage ``Error:``) with ``words``."""

    def check(run: Run) -> tuple[str, bool]:
        errors = run.lines("error:") + [line for line in run.err.splitlines() if line.startswith("Error:")]
        ok = len(errors) == 1 and all(w in errors[0] for w in words)
        return (f"{label}: {' '.join(words)}" if ok else f"NOT {label}: {errors[:1]}"), ok

    return check


def stopped(*words: str) -> Check:
    return refused(*words, label="stopped")


def said(prefix: str, *words: str) -> Check:
    def check(run: Run) -> tuple[str, bool]:
        ok = any(all(w in line for w in words) for line in run.lines(prefix))
        return (f"{prefix.rstrip(':')} said" if ok else f"no {prefix}"), ok

    return check


def stream_props(kind: str, index: int, **expected) -> Check:
    """Properties of the output's ``index``-th stream of ``kind`` (language, title, sar, …)."""

    def check(run: Run) -> tuple[str, bool]:
        if run.output is None or not run.output.exists():
            return "no output", False
        with av.open(str(run.output)) as container:
            stream = getattr(container.streams, kind)[index]
            got = {
                "language": stream.language,
                "title": stream.metadata.get("title", stream.metadata.get("name")),
                "disposition": stream.disposition,
                "sar": getattr(stream, "sample_aspect_ratio", None),
                "size": (getattr(stream, "width", None), getattr(stream, "height", None)),
                "pix_fmt": getattr(stream.codec_context, "pix_fmt", None),
                "codec": stream.codec_context.name,
                "profile": stream.profile,
            }
        wrong = {k: got[k] for k, v in expected.items() if got[k] != v}
        label = ",".join(f"{k}={v}" for k, v in expected.items() if k not in ("disposition",))
        if "disposition" in expected:
            label += f",disp={int(expected['disposition'])}"
        return f"{kind}{index} {label}" + (f" WRONG {wrong}" if wrong else ""), not wrong

    return check


def file_props(title: str | None = None, chapters: list[str] | None = None, rotation: int | None = None) -> Check:
    def check(run: Run) -> tuple[str, bool]:
        if run.output is None or not run.output.exists():
            return "no output", False
        from animeinterp_cli.video.decode import probe_video

        with av.open(str(run.output)) as container:
            got_title = container.metadata.get("title")
            got_chapters = [c["metadata"].get("title") for c in container.chapters()]
        ok = (title is None or got_title == title) and (chapters is None or got_chapters == chapters)
        if rotation is not None:
            ok = ok and probe_video(run.output).rotation == rotation
        parts = [f"title={got_title}"] * (title is not None) + [f"chapters={len(got_chapters)}"] * (chapters is not None)
        parts += [f"rotation={rotation}"] * (rotation is not None)
        return " ".join(parts) + ("" if ok else " WRONG"), ok

    return check


def plays(run: Run) -> tuple[str, bool]:
    """The output decodes without a word from the bundled ffmpeg."""
    if run.output is None or not run.output.exists():
        return "no output", False
    result = subprocess.run([ffmpeg(), "-v", "error", "-i", str(run.output), "-f", "null", "-"], capture_output=True, text=True)
    ok = result.returncode == 0 and not result.stderr.strip()
    return ("plays in ffmpeg" if ok else f"ffmpeg: {result.stderr.strip()[:60]}"), ok


def output_seconds(below: float) -> Check:
    def check(run: Run) -> tuple[str, bool]:
        if run.output is None or not run.output.exists():
            return "no output", False
        from animeinterp_cli.video.decode import probe_video

        seconds = float(probe_video(run.output).duration or 0)
        return f"output {seconds:.2f} s", seconds < below

    return check


def only_lines(prefix: str) -> Check:
    def check(run: Run) -> tuple[str, bool]:
        rest = [line for line in run.err.splitlines() if line.strip() and not line.startswith(prefix)]
        return (f"only {prefix} lines" if not rest else f"ALSO {rest[0][:50]}"), not rest

    return check


def unchanged(path_name: str, content: bytes) -> Check:
    def check(run: Run) -> tuple[str, bool]:
        ok = (run.folder / path_name).read_bytes() == content
        return ("original kept" if ok else "original CHANGED"), ok

    return check


def no_temp_name(run: Run) -> tuple[str, bool]:
    ok = ".partial-" not in run.err
    return ("user's name only" if ok else "TEMP NAME shown"), ok


def no_encoder_log(run: Run) -> tuple[str, bool]:
    ok = "x265 [" not in run.err and "Svt[" not in run.err
    return ("no encoder log" if ok else "ENCODER LOG shown"), ok


# -- inputs ---------------------------------------------------------------------------------


def clip(folder: Path, name: str = "in.mp4", **kwargs) -> Path:
    kwargs.setdefault("frames", 12)
    return make_clip(folder / name, **kwargs)


def double(source: Path, output: Path, *options: str) -> tuple[list[str], Path]:
    return ["double", str(source), str(output), *FAST, *options], output


def rich_source(folder: Path, suffix: str) -> Path:
    """Two audio tracks (jpn default, eng commentary), forced subtitles, chapters, a title,
    anamorphic pixels, made with the bundled ffmpeg as real releases are."""
    (folder / "subs.srt").write_text("1\n00:00:00,000 --> 00:00:00,400\nHello\n\n")
    (folder / "meta.txt").write_text(
        ";FFMETADATA1\ntitle=My Show\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=250\ntitle=Opening\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=250\nEND=500\ntitle=Part A\n"
    )
    target = folder / f"release{suffix}"
    subtitle_codec = "subrip" if suffix == ".mkv" else "mov_text"
    subprocess.run(
        [ffmpeg(), "-y", "-v", "error",
         "-f", "lavfi", "-i", "testsrc=d=0.5:s=160x96:r=24,setsar=sar=32/27:max=1000",
         "-f", "lavfi", "-i", "sine=d=0.5", "-f", "lavfi", "-i", "sine=d=0.5:frequency=880",
         "-i", str(folder / "subs.srt"), "-i", str(folder / "meta.txt"),
         "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map_metadata", "4", "-map_chapters", "4",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", subtitle_codec,
         "-metadata:s:a:0", "language=jpn", "-metadata:s:a:0", "title=Japanese 2.0",
         "-metadata:s:a:1", "language=eng", "-metadata:s:a:1", "title=Commentary",
         "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=Signs",
         "-disposition:a:0", "default", "-disposition:a:1", "comment", "-disposition:s:0", "forced",
         str(target)],
        check=True,
    )  # fmt: skip
    return target


def noise_clip(folder: Path, frames: int = 180) -> Path:
    return make_clip(folder / "whole.mp4", frames=frames, size=(96, 64), moving="noise")


def audio_only(folder: Path) -> Path:
    path = folder / "song.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def images(folder: Path, sizes: list[tuple[int, int]]) -> Path:
    import cv2

    inputs = folder / "frames_in"
    inputs.mkdir()
    for i, (width, height) in enumerate(sizes):
        cv2.imwrite(str(inputs / f"{i}.png"), np.full((height, width, 3), 40 * i, np.uint8))
    return inputs


# -- runs that are more than one plain call ---------------------------------------------------


def interrupted(name: str) -> Callable[[list[str], Path], tuple[int, str]]:
    """Run, wait until the partial output holds data (it is encoding), then send ``name``."""

    def run(args: list[str], folder: Path) -> tuple[int, str]:
        process = subprocess.Popen([*CLI, *args], stderr=subprocess.PIPE, text=True, cwd=REPO)
        deadline = time.monotonic() + 120
        while not any(".partial-" in p.name and p.stat().st_size > 0 for p in folder.iterdir()):
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        process.send_signal(getattr(signal, name))
        _, err = process.communicate(timeout=120)
        return process.returncode, err

    return run


def killed_then_rerun(args: list[str], folder: Path) -> tuple[int, str]:
    """SIGKILL (which nothing can catch) mid-run, then the same command: the rerun must
    remove the dead run's partial and say so."""
    code, _ = interrupted("SIGKILL")(args, folder)
    left = [p.name for p in folder.iterdir() if ".partial-" in p.name]
    short = make_clip(folder / "short.mp4", frames=6, audio=False)
    rerun = [args[0], str(short), *args[2:]]
    result = subprocess.run([*CLI, *rerun], capture_output=True, text=True, cwd=REPO)
    return result.returncode, f"(SIGKILL: exit {code}, left {left})\n" + result.stderr


def in_read_only_folder(args: list[str], folder: Path) -> tuple[int, str]:
    """The output folder is read-only: a read-only mount as root (root may write anywhere
    else), a folder without write permission otherwise."""
    locked = Path(args[2]).parent
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(locked)], capture_output=True).returncode == 0
        if not mounted:
            return 0, "skipped: root cannot mount a read-only folder here"
    else:
        locked.chmod(0o555)
    try:
        result = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO)
        return result.returncode, result.stderr
    finally:
        if mounted:
            subprocess.run(["umount", str(locked)], check=False)
        else:
            locked.chmod(0o755)


# -- the cases -------------------------------------------------------------------------------


def _cut_fast(folder: Path, fraction: float = 0.3) -> Path:
    return truncated(faststart(noise_clip(folder), folder / "fast.mp4"), folder / "cut.mp4", fraction)


def _zeroed_half(folder: Path) -> Path:
    source = make_clip(folder / "in.mkv", frames=24, audio=False, moving="noise")
    data = bytearray(source.read_bytes())
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)
    (folder / "broken.mkv").write_bytes(bytes(data))
    return folder / "broken.mkv"


def _text_file(folder: Path) -> tuple[list[str], Path]:
    (folder / "fake.mp4").write_text("hello\n" * 50)
    return double(folder / "fake.mp4", folder / "out.mp4")


def _empty_file(folder: Path) -> tuple[list[str], Path]:
    (folder / "empty.mp4").write_bytes(b"")
    return double(folder / "empty.mp4", folder / "out.mp4")


def _cut_mkv(folder: Path) -> Path:
    whole = make_clip(folder / "in.mkv", frames=96, size=(96, 64), moving="noise", audio=False)
    return truncated(whole, folder / "cut.mkv", 0.4)


def _corrupt(folder: Path) -> Path:
    return with_corrupt_packet(make_clip(folder / "in.mkv", frames=48, audio=False, moving="noise"), folder / "bad.mkv")


def _vfr(folder: Path) -> Path:
    return clip(folder, "vfr.mkv", vfr_times=[Fraction(i, 24) if i < 8 else Fraction(i, 12) for i in range(16)])


def _empty_folder(folder: Path) -> tuple[list[str], Path]:
    (folder / "empty").mkdir()
    return ["frames", str(folder / "empty"), str(folder / "out")], folder / "out"


def _two_sizes(folder: Path) -> tuple[list[str], Path]:
    return ["frames", str(images(folder, [(12, 10), (14, 10)])), str(folder / "out"), "--model", "blend"], folder / "out"


def _existing(folder: Path) -> tuple[list[str], Path]:
    (folder / "out.mp4").write_bytes(b"precious")
    return double(clip(folder), folder / "out.mp4")


def _symlinked_self(folder: Path) -> tuple[list[str], Path]:
    source = clip(folder)
    (folder / "link.mp4").symlink_to(source)
    return ["double", str(source), str(folder / "link.mp4"), *FAST, "--overwrite"], None


def _locked(folder: Path) -> tuple[list[str], Path]:
    (folder / "locked").mkdir()
    return double(clip(folder), folder / "locked" / "out.mp4")


CASES = [
    Case("plain clip (baseline)", lambda f: double(clip(f, audio=True), f / "out.mp4"), 0, [no_warning, plays]),
    Case("missing input", lambda f: double(f / "nope.mp4", f / "out.mp4"), 1, [refused("not found")]),
    Case("text file named .mp4", _text_file, 1, [refused("fake.mp4")]),
    Case("empty file", _empty_file, 1, [refused("empty.mp4")]),
    Case("audio only", lambda f: double(audio_only(f), f / "out.mp4"), 1, [refused("no video stream")]),
    Case("single frame", lambda f: double(clip(f, frames=1), f / "out.mp4"), 1, [refused("at least 2 frames")]),
    Case("mp4 cut, index at the end", lambda f: double(truncated(noise_clip(f), f / "cut.mp4", 0.3), f / "out.mp4"), 1, [refused("cut.mp4")]),
    Case("faststart mp4 cut to 30 %", lambda f: double(_cut_fast(f), f / "out.mp4"), 0, [warned("7.50 s", "truncated"), output_seconds(5)]),
    Case("faststart mp4 cut, --strict", lambda f: double(_cut_fast(f), f / "out.mp4", "--strict"), 1, [refused("7.50 s", "--strict")]),
    Case("faststart mp4 cut, -q", lambda f: double(_cut_fast(f), f / "out.mp4", "-q"), 0, [warned("7.50 s"), only_lines("warning:")]),
    Case("mkv cut to 40 %", lambda f: double(_cut_mkv(f), f / "out.mkv"), 0, [warned("4.00 s")]),
    Case("decoder error midway", lambda f: double(_corrupt(f), f / "out.mkv"), 0, [warned("decoding failed at", " s (frame ", "2.00 s")]),
    Case("decoder error midway, --strict", lambda f: double(_corrupt(f), f / "out.mkv", "--strict"), 1, [refused("decoding failed at")]),
    Case("second half zeroed", lambda f: double(_zeroed_half(f), f / "out.mkv"), (0, 1), [said("warning:", "broken.mkv")]),
    Case("SAR 3:4 (mkv)", lambda f: double(clip(f, "in.mkv", sample_aspect_ratio=Fraction(3, 4)), f / "out.mkv"), 0,
         [stream_props("video", 0, sar=Fraction(3, 4))]),
    Case("SAR 1916:2559 (mp4)", lambda f: double(clip(f, sample_aspect_ratio=Fraction(1916, 2559)), f / "out.mp4"), 0,
         [stream_props("video", 0, sar=Fraction(1916, 2559))]),
    Case("release mkv: tags, chapters", lambda f: double(rich_source(f, ".mkv"), f / "out.mkv"), 0, [
        stream_props("video", 0, sar=Fraction(32, 27)),
        stream_props("audio", 0, language="jpn", title="Japanese 2.0", disposition=av.stream.Disposition.default),
        stream_props("audio", 1, language="eng", title="Commentary", disposition=av.stream.Disposition.comment),
        stream_props("subtitles", 0, language="eng", title="Signs", disposition=av.stream.Disposition.forced),
        file_props(title="My Show", chapters=["Opening", "Part A"]),
    ]),
    Case("release mp4: tags, chapters", lambda f: double(rich_source(f, ".mp4"), f / "out.mp4"), 0, [
        stream_props("video", 0, sar=Fraction(32, 27)),
        stream_props("audio", 0, language="jpn", title="Japanese 2.0"),
        stream_props("audio", 1, language="eng", title="Commentary"),
        stream_props("subtitles", 0, language="eng", title="Signs"),
        file_props(title="My Show", chapters=["Opening", "Part A"]),
    ]),
    Case("mp4 subtitles into .mkv", lambda f: double(clip(f, subtitles=True), f / "out.mkv"), 0, [warned("subtitle stream", "left out")]),
    Case("odd size 65x37", lambda f: double(clip(f, "odd.mkv", size=(65, 37), pix_fmt="yuv444p", audio=False), f / "out.mp4"), 0, [
        warned("65×37", "64×36"), stream_props("video", 0, size=(64, 36), pix_fmt="yuv420p"), plays]),
    Case("10-bit source", lambda f: double(clip(f, "deep.mp4", pix_fmt="yuv420p10le", audio=False), f / "out.mp4"), 0, [
        stream_props("video", 0, codec="hevc", profile="Main 10", pix_fmt="yuv420p10le"), no_encoder_log, plays]),
    Case("rotated 90°", lambda f: double(clip(f, rotation=90, audio=False), f / "out.mp4"), 0, [file_props(rotation=90)]),
    Case("variable frame rate", lambda f: double(_vfr(f), f / "out.mkv"), 0, [no_warning]),
    Case("--fps 60 with --factor 4", lambda f: double(clip(f), f / "out.mp4", "--fps", "60", "--factor", "4"), 2, [refused("--fps", "--factor")]),
    Case("--fps 12 below 24 fps", lambda f: double(clip(f, rate=24), f / "out.mp4", "--fps", "12"), 2, [refused("--allow-drop")]),
    Case("--fps 12 --allow-drop", lambda f: double(clip(f, rate=24), f / "out.mp4", "--fps", "12", "--allow-drop"), 0, [no_warning]),
    Case("output without extension", lambda f: double(clip(f), f / "out"), 1, [refused("out"), no_temp_name]),
    Case("output .avi", lambda f: double(clip(f), f / "out.avi"), 1, [refused(".avi"), no_temp_name]),
    Case("unknown codec", lambda f: double(clip(f), f / "out.mp4", "--codec", "h265-turbo"), 1, [refused("h265-turbo")]),
    Case("output exists", _existing, 1, [refused("--overwrite"), unchanged("out.mp4", b"precious")]),
    Case("output is the input", lambda f: (lambda s: (["double", str(s), str(s), *FAST, "--overwrite"], None))(clip(f)), 1, [refused("input itself")]),
    Case("output is the input (symlink)", _symlinked_self, 1, [refused("input itself")]),
    Case("output folder missing", lambda f: double(clip(f), f / "no" / "out.mp4"), 1, [refused("does not exist")]),
    Case("output folder read-only", _locked, 1, [refused("not writable")], run=in_read_only_folder),
    Case("[Group] name [1080p].mkv", lambda f: double(f / "[Group] Show - 01 [1080p].mkv", f / "out.mkv"), 1, [refused("[Group] Show - 01 [1080p].mkv")]),
    Case("SIGINT mid-run", lambda f: double(clip(f, frames=600, audio=False), f / "out.mp4"), 130, [stopped("interrupted")], run=interrupted("SIGINT")),
    Case("SIGTERM mid-run", lambda f: double(clip(f, frames=600, audio=False), f / "out.mp4"), 143, [stopped("SIGTERM")], run=interrupted("SIGTERM")),
    Case("SIGHUP mid-run", lambda f: double(clip(f, frames=600, audio=False), f / "out.mp4"), 129, [stopped("SIGHUP")], run=interrupted("SIGHUP")),
    Case("SIGKILL, then rerun", lambda f: double(clip(f, frames=600, audio=False), f / "out.mp4"), 0,
         [said("note:", "removed", ".out.partial-")], run=killed_then_rerun, leaves=("short.mp4",)),
    Case("frames: empty folder", _empty_folder, 1, [refused("empty")]),
    Case("frames: two sizes", _two_sizes, 1, [refused("one size")]),
]  # fmt: skip


def run_case(case: Case, root: Path, index: int) -> tuple[Run, list[tuple[str, bool]], bool]:
    folder = root / f"{index:02d}"
    folder.mkdir()
    args, output = case.make(folder)
    before = set(os.listdir(folder)) | set(case.leaves)
    if case.run is not None:
        code, err = case.run(args, folder)
    else:
        result = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO)
        code, err = result.returncode, result.stderr
    run = Run(code, err, folder, before, output)
    if err.startswith("skipped:"):
        return run, [(err.strip(), True)], True
    checks = [check(run) for check in case.checks]
    expected = (case.expect,) if isinstance(case.expect, int) else case.expect
    ok = code in expected and not run.traceback and not run.left_behind() and all(passed for _, passed in checks)
    return run, checks, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only the cases whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print each case's stderr too")
    parser.add_argument("--keep", action="store_true", help="keep the folders of the cases")
    options = parser.parse_args()

    cases = [case for case in CASES if options.k.lower() in case.name.lower()]
    root = Path(tempfile.mkdtemp(prefix="animeinterp-bad-inputs-"))
    root.chmod(0o755)
    print(f"{len(cases)} cases through `{' '.join(Path(c).name for c in CLI)}` in {root}\n")
    print(f"{'case':32} {'exit':>4} {'want':>5} {'tb':>3} {'left':>4}  checks")
    results = []
    started = time.monotonic()
    for index, case in enumerate(cases):
        run, checks, ok = run_case(case, root, index)
        results.append((case, run, checks, ok))
        want = "/".join(map(str, (case.expect,) if isinstance(case.expect, int) else case.expect))
        left = run.left_behind()
        print(
            f"{case.name[:32]:32} {run.code:>4} {want:>5} {'yes' if run.traceback else 'no':>3} {len(left):>4}  "
            f"{'; '.join(label for label, _ in checks)}{'' if ok else '   <-- NOT AS EXPECTED'}",
            flush=True,
        )
        if left:
            print(f"{'':48}left behind: {', '.join(left)}")
        if options.verbose or not ok:
            for line in run.err.strip().splitlines()[-6:]:
                print(f"{'':48}| {line[:160]}")

    good = sum(ok for *_, ok in results)
    tracebacks = sum(run.traceback for _, run, _, _ in results)
    left = sum(len(run.left_behind()) for _, run, _, _ in results)
    signals = [(case, run) for case, run, _, _ in results if case.run is not None and case.name.startswith("SIG")]
    def kept(tag: str) -> str:
        relevant = [passed for _, _, checks, _ in results for label, passed in checks if tag in label]
        return f"{sum(relevant)}/{len(relevant)}"

    truncated_warned = [ok for case, _, _, ok in results if "cut" in case.name and "index at the end" not in case.name]
    fps_factor = [ok for case, _, _, ok in results if "--factor" in case.name]
    print(
        f"\nsummary: {good}/{len(results)} cases as expected; tracebacks {tracebacks}; files left behind {left} "
        f"(of which after a signal: {sum(len(run.left_behind()) for _, run in signals)}); SAR kept {kept('sar=')}; "
        f"languages kept {kept('language=')}; truncated input warned or refused "
        f"{sum(truncated_warned)}/{len(truncated_warned)}; --fps with --factor refused "
        f"{'yes' if fps_factor and all(fps_factor) else 'NO'}; {time.monotonic() - started:.0f} s"
    )
    if not options.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if good == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
