"""Validation with the real tools: `promtool check rules` and `amtool check-config`. A file that fails
here is never written where the backend reads it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings


class CheckFailed(Exception):
    def __init__(self, tool: str, output: str) -> None:
        super().__init__(f"{tool}: {output}")
        self.tool = tool
        self.output = output


def _run(tool: str, args: list[str], text: str, suffix: str) -> None:
    fd, name = tempfile.mkstemp(prefix="portal-check-", suffix=suffix)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        proc = subprocess.run([*args, name], capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    finally:
        Path(name).unlink(missing_ok=True)
    if proc.returncode != 0:
        out = (proc.stderr + proc.stdout).replace(name, "<rules>").strip()
        raise CheckFailed(tool, out[-2000:])


def check_rules(text: str) -> None:
    _run("promtool", [settings.PROMTOOL, "check", "rules"], text, ".yml")


def check_alertmanager_config(text: str) -> None:
    _run("amtool", [settings.AMTOOL, "check-config"], text, ".yml")


def atomic_write(path: Path, text: str) -> bool:
    """Write via a temp file in the same directory + rename, so a reader never sees half a file.
    Returns False when the file already had this content (nothing to reload)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True
