"""A run folder's ``log.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path


class RunLog:
    """``log.jsonl``: one JSON object per line, flushed as written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
