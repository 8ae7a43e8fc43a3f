"""The layers' rules, checked on the source: what ``models/`` may import, where PyAV and
OpenCV's image file I/O may appear. Each rule is also shown to catch a breach."""

from __future__ import annotations

import ast
import sys

import pytest

from tests.conftest import REPO

#: what models/ may import besides the standard library and itself: no CLI, video or file formats
MODELS_MAY_IMPORT = {"models", "numpy", "torch", "torchvision", "cv2"}
#: the only package code that may import PyAV
AV_HOME = "animeinterp_cli/video/"
#: the only package code that may read or write image files with OpenCV
IMAGE_IO_HOME = "animeinterp_cli/video/images.py"
IMAGE_IO_CALLS = {"imread", "imwrite", "imreadmulti", "imwritemulti"}


def imported_roots(source: str) -> set[str]:
    """Top-level names of every module ``source`` imports (relative imports as ``"."``)."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else (node.module or "").split(".")[0])
    return roots


def image_io_calls(source: str) -> set[str]:
    """The ``cv2.<name>`` image file functions ``source`` uses (as attributes or imported names)."""
    used = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cv2":
            used.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module == "cv2":
            used.update(alias.name for alias in node.names)
    return used & IMAGE_IO_CALLS


def package_files() -> list[tuple[str, str]]:
    """(path relative to the repository, source) of every module of both packages."""
    return [
        (path.relative_to(REPO).as_posix(), path.read_text(encoding="utf-8"))
        for package in ("animeinterp_cli", "models")
        for path in sorted((REPO / package).rglob("*.py"))
    ]


def models_breaches(files) -> list[str]:
    allowed = MODELS_MAY_IMPORT | set(sys.stdlib_module_names) | {"."}  # relative: inside models
    return [
        f"{name} imports {root}"
        for name, source in files
        if name.startswith("models/")
        for root in sorted(imported_roots(source) - allowed)
    ]


def av_breaches(files) -> list[str]:
    return [
        f"{name} imports av"
        for name, source in files
        if "av" in imported_roots(source) and not name.startswith(AV_HOME)
    ]


def image_io_breaches(files) -> list[str]:
    return [
        f"{name} calls cv2.{call}"
        for name, source in files
        if name != IMAGE_IO_HOME
        for call in sorted(image_io_calls(source))
    ]


RULES = [models_breaches, av_breaches, image_io_breaches]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_the_package_keeps_the_rule(rule):
    assert rule(package_files()) == []


@pytest.mark.parametrize(
    ("rule", "name", "source", "breach"),
    [
        (models_breaches, "models/sgm/new.py", "from animeinterp_cli.errors import InputError", "imports animeinterp_cli"),
        (models_breaches, "models/ops/new.py", "import typer", "imports typer"),
        (models_breaches, "models/new.py", "from av.video import VideoFrame", "imports av"),
        (av_breaches, "animeinterp_cli/engine/new.py", "import av.datasets", "imports av"),
        (av_breaches, "animeinterp_cli/benchmark/new.py", "from av import open", "imports av"),
        (image_io_breaches, "animeinterp_cli/benchmark/new.py", "import cv2\ncv2.imread('a.png')", "cv2.imread"),
        (image_io_breaches, "models/new.py", "from cv2 import imwrite", "cv2.imwrite"),
    ],
)
def test_a_breach_is_caught(rule, name, source, breach):
    (found,) = rule([(name, source)])
    assert breach in found


@pytest.mark.parametrize(
    ("rule", "name", "source"),
    [
        (models_breaches, "models/new.py", "import numpy, torch, cv2\nfrom models.ops import grid\nfrom . import x"),
        (av_breaches, "animeinterp_cli/video/new.py", "import av"),
        (image_io_breaches, "animeinterp_cli/video/images.py", "import cv2\ncv2.imencode('.png', x)"),
        (image_io_breaches, "animeinterp_cli/engine/new.py", "import cv2\ncv2.resize(x, (2, 2))"),
    ],
)
def test_what_the_rules_allow(rule, name, source):
    assert rule([(name, source)]) == []
