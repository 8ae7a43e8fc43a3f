"""`animeinterp weights download`: against an HTTP server the test runs on 127.0.0.1.

The server serves files the tests build (a checkpoint in the official layout, a VGG-19 state
dict), with or without Range support, breaking off mid-way, or answering 404 or an HTML page.
No test makes a real network request: the known mirrors are replaced by a closed local port.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from animeinterp_cli import download as dl
from animeinterp_cli.weights import sha256_of
from models.animeinterp import AnimeInterp
from models.config import AnimeInterpConfig
from tests.test_cli import run_cli

MB = 1 << 20


# --------------------------------------------------------------------------- fixtures


def _closed_port_url(path: str = "/file") -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"  # nothing listens there once the probe is closed


@pytest.fixture(autouse=True)
def no_real_mirrors(monkeypatch):
    """The known mirrors point at a closed local port: a test can never reach the network."""
    for key, target in dl.TARGETS.items():
        monkeypatch.setitem(dl.TARGETS, key, dataclasses.replace(target, mirrors=(_closed_port_url(f"/{key}"),)))


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """An empty weights folder and torch hub cache, made current."""
    weights, hub = tmp_path / "weights", tmp_path / "torch"
    weights.mkdir()
    monkeypatch.setenv("ANIMEINTERP_WEIGHTS", str(weights))
    monkeypatch.setenv("TORCH_HOME", str(hub))
    return weights, hub / "hub" / "checkpoints"


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def official_bytes() -> bytes:
    """A checkpoint in the official layout (seeded random paper-configuration weights)."""
    torch.manual_seed(0)
    state = AnimeInterp(AnimeInterpConfig.paper()).state_dict()
    return _saved({"model_state_dict": {f"module.{k}": v for k, v in state.items()}})


@pytest.fixture(scope="module")
def vgg_bytes() -> bytes:
    """The part of a torchvision VGG-19 state dict SGM uses (conv1_1 … conv4_1), random."""
    from torchvision.models import vgg19

    from models.sgm.descriptors import VGG_CONVS

    with torch.device("meta"):
        shapes = vgg19(weights=None).state_dict()
    generator = torch.Generator().manual_seed(0)
    keys = [f"features.{i}.{part}" for i in VGG_CONVS for part in ("weight", "bias")]
    return _saved({key: torch.randn(shapes[key].shape, generator=generator) * 0.01 for key in keys})


class Server:
    """Files by path, each with its own behaviour; every request is recorded."""

    def __init__(self) -> None:
        self.files: dict[str, dict] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                spec = server.files.get(self.path)
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                if spec is None or spec.get("status") == 404:
                    self.send_error(404, "Not Found")
                    return
                data = spec["data"]
                start = 0
                requested = self.headers.get("Range")
                if spec["range"] and requested and requested.startswith("bytes="):
                    start = int(requested[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", spec["type"])
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                body = data[start:]
                if spec["breaks"] > 0:  # send a part of the body, then drop the connection
                    spec["breaks"] -= 1
                    body = body[: spec["break_after"]]
                    self.close_connection = True
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    pass
                server.sent += len(body)

        self.sent = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, path, data=b"", *, range=True, breaks=0, break_after=MB, type="application/octet-stream", status=200):
        self.files[path] = {"data": data, "range": range, "breaks": breaks, "break_after": break_after,
                            "type": type, "status": status}
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _last_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _downloads(folder: Path) -> dict:
    return tomllib.loads((folder / "downloads.toml").read_text())


# --------------------------------------------------------------------------- the bar


def test_download_validates_records_verifies_and_second_call_is_a_no_op(folders, server, official_bytes, capsys, monkeypatch):
    from animeinterp_cli import console

    monkeypatch.setattr(console.stderr, "width", 200)
    weights, _ = folders
    url = server.serve("/anime_interp_full.ckpt", official_bytes)
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    assert code == 0, err
    path = weights / "anime_interp_full.ckpt"
    assert path.read_bytes() == official_bytes
    assert _files(weights) == ["anime_interp_full.ckpt", "downloads.toml"]  # no part file, no manifest
    record = _downloads(weights)["official"]
    assert record["sha256"] == sha256_of(path) and record["file"] == "anime_interp_full.ckpt" and record["url"] == url
    assert "done" in err and "validated and recorded" in err

    code, err = run_cli(capsys, "weights")  # lists and verifies it
    assert code == 0, err
    assert "anime_interp_full.ckpt" in err and "ok (downloaded)" in err and "user file" not in err

    requests = len(server.requests)
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    assert code == 0 and "already present and verified" in err and "nothing to do" in err
    assert len(server.requests) == requests  # a no-op: nothing fetched

    with open(path, "r+b") as f:  # a corrupted file: `weights` names it
        f.seek(1000)
        f.write(b"\x00" * 16)
    code, err = run_cli(capsys, "weights")
    assert code == 1 and "anime_interp_full.ckpt" in _last_line(err) and "corrupt" in _last_line(err)


def test_a_transfer_broken_mid_way_resumes_with_a_range_request(folders, server, official_bytes):
    weights, _ = folders
    url = server.serve("/ckpt", official_bytes, range=True, breaks=1, break_after=5 * MB)
    outcome = dl.download("official", url)
    assert outcome.status == "downloaded" and outcome.path.read_bytes() == official_bytes
    assert [r["range"] for r in server.requests] == [None, f"bytes={5 * MB}-"]
    assert server.sent == len(official_bytes)  # nothing fetched twice
    assert _files(weights) == ["anime_interp_full.ckpt", "downloads.toml"]


def test_a_server_without_range_support_restarts_the_file(folders, server, official_bytes):
    url = server.serve("/ckpt", official_bytes, range=False, breaks=1, break_after=5 * MB)
    outcome = dl.download("official", url)
    assert outcome.path.read_bytes() == official_bytes
    assert [r["range"] for r in server.requests] == [None, f"bytes={5 * MB}-"]  # asked, got the whole file
    assert server.sent == len(official_bytes) + 5 * MB


def test_an_interrupted_run_keeps_its_part_and_the_next_run_resumes(folders, server, official_bytes, capsys):
    weights, _ = folders
    url = server.serve("/ckpt", official_bytes, breaks=dl.ATTEMPTS, break_after=MB)
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    assert code == 1
    line = _last_line(err)
    assert url in line and "breaking off" in line and "run the command again to resume" in line
    assert f"connection closed after {dl.ATTEMPTS * MB:,} of {len(official_bytes):,} bytes" in line
    assert _files(weights) == [".official.part", ".official.part.json"]  # hidden, resumable; nothing else
    assert (weights / ".official.part").stat().st_size == dl.ATTEMPTS * MB

    server.requests.clear()
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    assert code == 0, err
    assert [r["range"] for r in server.requests] == [f"bytes={dl.ATTEMPTS * MB}-"]
    assert (weights / "anime_interp_full.ckpt").read_bytes() == official_bytes
    assert _files(weights) == ["anime_interp_full.ckpt", "downloads.toml"]


@pytest.mark.parametrize("kind", ["404", "html", "html-as-binary", "refused", "not-torch"])
def test_a_refused_download_fails_in_one_line_and_leaves_nothing(folders, server, kind, capsys):
    weights, hub = folders
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    url = {
        "404": lambda: server.serve("/ckpt", status=404),
        "html": lambda: server.serve("/ckpt", page, type="text/html; charset=utf-8"),
        "html-as-binary": lambda: server.serve("/ckpt", page),
        "refused": _closed_port_url,
        "not-torch": lambda: server.serve("/ckpt", b"GIF89a" + bytes(5000)),
    }[kind]()
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    assert code == 1
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err  # one line …
    assert url in lines[0]  # … naming the URL …
    reason = {"404": "HTTP 404", "html": "HTML page", "html-as-binary": "HTML page", "refused": "refused",
              "not-torch": "not a PyTorch file"}[kind]
    assert reason in lines[0]  # … and the reason
    assert _files(weights) == [] and _files(hub) == []  # nothing left behind


def test_a_wrong_checkpoint_names_the_keys_and_shapes_and_is_not_kept(folders, server, capsys):
    torch.manual_seed(0)
    tiny = AnimeInterp(AnimeInterpConfig.tiny()).state_dict()
    state = {f"module.{k}": v for k, v in tiny.items()}
    state["module.extra.weight"] = torch.zeros(1)
    url = server.serve("/tiny.ckpt", _saved({"model_state_dict": state}))
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    line = _last_line(err)
    assert code == 1 and url in line and "not the AnimeInterp checkpoint" in line
    assert "shape mismatch" in line and "unexpected key" in line and "extra.weight" in line
    assert "file [" in line and "vs model [" in line  # the shapes are named
    assert _files(folders[0]) == []


def test_mirrors_are_tried_in_order(folders, server, official_bytes, monkeypatch, capsys):
    first, second = server.serve("/gone", status=404), server.serve("/copy.ckpt", official_bytes)
    monkeypatch.setitem(dl.TARGETS, "official", dataclasses.replace(dl.TARGETS["official"], mirrors=(first, second)))
    outcome = dl.download("official")
    assert outcome.url == second and [r["path"] for r in server.requests] == ["/gone", "/copy.ckpt"]

    (folders[0] / "anime_interp_full.ckpt").unlink()
    (folders[0] / "downloads.toml").unlink()
    server.files["/copy.ckpt"]["status"] = 404
    code, err = run_cli(capsys, "weights", "download", "official")
    line = _last_line(err)
    assert code == 1 and first in line and second in line and line.count("HTTP 404") == 2


def test_a_file_already_in_place_is_validated_and_recorded_without_a_download(folders, server, official_bytes, capsys):
    weights, _ = folders
    (weights / "anime_interp_full.ckpt").write_bytes(official_bytes)
    url = server.serve("/ckpt", status=404)
    code, err = run_cli(capsys, "weights", "download", "official", "--url", url)
    assert code == 0 and "validated and recorded" in err and server.requests == []
    assert _downloads(weights)["official"]["sha256"] == sha256_of(weights / "anime_interp_full.ckpt")


def test_vgg19_goes_to_torch_hubs_cache_where_sgm_finds_it(folders, server, vgg_bytes, capsys, monkeypatch):
    from animeinterp_cli import console
    from models.sgm import SGMConfig
    from models.sgm.descriptors import find_vgg_weights, load_vgg

    monkeypatch.setattr(console.stderr, "width", 200)
    weights, hub = folders
    url = server.serve("/weights/vgg.pth", vgg_bytes)
    code, err = run_cli(capsys, "weights", "download", "vgg19", "--url", url)
    assert code == 0, err
    digest = sha256_of(next(hub.glob("vgg19-*.pth")))
    assert _files(hub) == [f"vgg19-{digest[:8]}.pth"]  # torch hub's naming: the sha256 prefix
    assert _downloads(weights)["vgg19"]["file"] == str(hub / f"vgg19-{digest[:8]}.pth")
    assert find_vgg_weights(SGMConfig()) == hub / f"vgg19-{digest[:8]}.pth"
    load_vgg(str(hub / f"vgg19-{digest[:8]}.pth"), "cpu")
    code, err = run_cli(capsys, "weights")
    assert code == 0 and "vgg19-" in err and "ok (downloaded)" in err
    code, err = run_cli(capsys, "weights", "download", "vgg19", "--url", url)
    assert code == 0 and "already present" in err


def test_a_vgg19_with_a_missing_tensor_is_named(folders, server, vgg_bytes, capsys):
    state = torch.load(io.BytesIO(vgg_bytes), weights_only=True)
    del state["features.19.bias"]
    state["features.5.weight"] = state["features.5.weight"][:, :32]
    url = server.serve("/vgg.pth", _saved(state))
    code, err = run_cli(capsys, "weights", "download", "vgg19", "--url", url)
    line = _last_line(err)
    assert code == 1 and "features.19.bias" in line and "features.5.weight" in line and "[128, 32, 3, 3]" in line
    assert _files(folders[1]) == []


def test_a_hub_named_file_must_match_its_sha256_prefix(folders, server, vgg_bytes, capsys):
    url = server.serve("/vgg19-dcbb9e9d.pth", vgg_bytes)  # torchvision's name, other bytes
    code, err = run_cli(capsys, "weights", "download", "vgg19", "--url", url)
    assert code == 1 and "dcbb9e9d" in _last_line(err) and _files(folders[1]) == []


# --------------------------------------------------------------------------- --model auto


def _tiny_default(weights: Path) -> None:
    from models.checkpoint import save_checkpoint

    config = AnimeInterpConfig.tiny()
    torch.manual_seed(0)
    save_checkpoint(weights / "tiny.pt", AnimeInterp(config), config.to_dict())
    (weights / "manifest.toml").write_text(
        f'[default]\nname = "tiny"\nfile = "tiny.pt"\nsha256 = "{sha256_of(weights / "tiny.pt")}"\nguidance = "zero"\n'
    )


def test_auto_prefers_the_verified_official_checkpoint_with_the_papers_pipeline(folders, server, official_bytes):
    from animeinterp_cli.api import RunConfig, _make_runner

    weights, _ = folders
    _tiny_default(weights)
    manifest = (weights / "manifest.toml").read_bytes()
    runner, summary, notes = _make_runner(RunConfig(device="cpu", precision="fp32"))
    assert runner.method.network.config == AnimeInterpConfig.tiny()  # the project's default, fast SGM
    assert runner.method.sgm.flow_layout == "aligned" and runner.method.sgm.bilateral_diameter == 5
    assert notes == ("using the project's weights tiny.pt (zero guidance)",)

    dl.download("official", server.serve("/ckpt", official_bytes))
    assert (weights / "manifest.toml").read_bytes() == manifest  # the tracked manifest is untouched
    runner, summary, notes = _make_runner(RunConfig(device="cpu", precision="fp32"))
    method = runner.method
    assert summary.method == "animeinterp" and method.network.config.rfr.iters == 12
    assert method.guidance_mode == "sgm"
    assert method.sgm.flow_layout == "patches" and method.sgm.bilateral_diameter == 30
    # VGG-19 looked for even on the CPU; none in this test's torch hub, so the colour descriptor
    assert method.sgm.dis_finest_scale == 0 and method.sgm.descriptor == "color"
    assert [n for n in notes if "official" in n and "faithful" in n]
    assert [n for n in notes if "no VGG-19 ImageNet weights found" in n and "weights download vgg19" in n]

    runner, _, notes = _make_runner(RunConfig(model="classic", device="cpu", precision="fp32"))
    assert runner.method.method_name == "classic" and notes == ()  # --model classic stays


def test_a_corrupt_official_checkpoint_is_an_error_not_a_silent_fallback(folders, server, official_bytes):
    from animeinterp_cli.api import RunConfig, _make_runner
    from animeinterp_cli.errors import WeightsError

    weights, _ = folders
    dl.download("official", server.serve("/ckpt", official_bytes))
    with open(weights / "anime_interp_full.ckpt", "r+b") as f:
        f.seek(2000)
        f.write(b"\xff" * 8)
    with pytest.raises(WeightsError, match="anime_interp_full.ckpt.*downloads.toml"):
        _make_runner(RunConfig(device="cpu", precision="fp32"))


def test_a_checkpoint_outside_the_manifest_runs_the_papers_pipeline_and_the_projects_keeps_fast_sgm(
    folders, official_bytes, cpu_fp32
):
    from animeinterp_cli.benchmark.run import build_contenders
    from animeinterp_cli.engine.methods import build_method
    from models.sgm import SGMConfig

    weights, _ = folders
    _tiny_default(weights)
    user_file = weights.parent / "somewhere" / "anime_interp_full.ckpt"
    user_file.parent.mkdir()
    user_file.write_bytes(official_bytes)
    paper = build_method("animeinterp", placement=cpu_fp32, weights=user_file)
    # the faithful SGM, with VGG-19 whenever its weights are found, even on the CPU (none here)
    assert paper.interpolator.sgm == SGMConfig.faithful(descriptor="color", device="cpu", vgg_precision="fp32")
    assert paper.notes == ("SGM uses the weights-free colour descriptor (no VGG-19 ImageNet weights found; "
                           "`animeinterp weights download vgg19` fetches them)",)
    project = build_method("animeinterp", placement=cpu_fp32, weights=weights / "tiny.pt")
    assert project.interpolator.sgm.flow_layout == "aligned" and project.interpolator.sgm.descriptor == "color"
    (contender,) = build_contenders(["animeinterp"], placement=cpu_fp32, weights=user_file, inline_guidance=True)
    assert contender.runner.method.sgm.flow_layout == "patches"  # benchmark --sgm inline: the faithful SGM


def test_a_network_that_names_its_own_guidance_keeps_it_outside_the_manifest(folders, cpu_fp32):
    """The learned default (DIS-guided) from a file outside the manifest: its configuration's
    guidance, never the paper's faithful SGM."""
    from animeinterp_cli.engine.methods import build_method
    from models.checkpoint import save_checkpoint

    weights, _ = folders
    config = AnimeInterpConfig.guided()
    torch.manual_seed(0)
    save_checkpoint(weights.parent / "guided.pt", AnimeInterp(config), config.to_dict())
    built = build_method("animeinterp", placement=cpu_fp32, weights=weights.parent / "guided.pt")
    assert built.interpolator.guidance_mode == "dis" and built.notes == ()
    assert built.interpolator.sgm.flow_layout == "aligned"


def test_benchmark_says_it_scores_the_official_checkpoint(folders, server, official_bytes, tmp_path, capsys):
    import json

    from tests.benchmark.atd import write_triplet

    dl.download("official", server.serve("/ckpt", official_bytes))
    write_triplet(tmp_path / "data" / "one", error=3)
    code, err = run_cli(capsys, "benchmark", tmp_path / "data", "--limit", "1", "--sgm", "zero", "--json",
                        tmp_path / "out.json", "--device", "cpu", "--precision", "fp32")
    assert code == 0, err  # not -q: that keeps the notes back (errors and warnings only)
    assert "official AnimeInterp checkpoint anime_interp_full.ckpt" in err and "no inline guidance" in err
    assert json.loads((tmp_path / "out.json").read_text())["weights"] == "anime_interp_full.ckpt"


def test_the_command_line_names_every_target():
    from animeinterp_cli.options import DownloadName

    assert [name.value for name in DownloadName] == list(dl.TARGETS)


def test_an_unknown_name_is_a_usage_error(folders, capsys):
    code, err = run_cli(capsys, "weights", "download", "vgg16")
    assert code == 2 and "'vgg16' is not one of" in err
