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


def atomic_write(path: Path, text: str, *, private: bool = False) -> bool:
    """Write via a temp file in the same directory + rename, so a reader never sees half a file.
    Returns False when the file already had this content (nothing to reload).

    `private`: the text holds credentials. mkstemp creates the file 0600 and it is never widened, so
    there is no moment where another user could read it; a same-content file with a wider mode (written
    by an older version) is rewritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == text and not (private and path.stat().st_mode & 0o077):
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    # No fsync: rename keeps readers from ever seeing half a file, and after a crash the reconcile
    # rewrites whatever differs from the database; an fsync per file would cost seconds per 1,000 orgs.
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        if not private:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def check_rules_many(texts: dict[str, str]) -> dict[str, str]:
    """Validate many rule files with a few promtool runs (the reconcile of 1,000 orgs cannot afford a
    process per file): one per CPU, side by side. Returns {key: error} for the files promtool rejected."""
    if not texts:
        return {}
    items = list(texts.items())
    n = max(1, min(os.cpu_count() or 1, len(items) // 100))
    if n == 1:
        return _check_rules_batch(texts)
    from concurrent.futures import ThreadPoolExecutor

    batches = [dict(items[i::n]) for i in range(n)]
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=n) as pool:
        for result in pool.map(_check_rules_batch, batches):
            errors.update(result)
    return errors


def _check_rules_batch(texts: dict[str, str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="portal-check-") as tmp:
        paths = {}
        for i, (key, text) in enumerate(texts.items()):
            p = Path(tmp) / f"f{i}.yml"
            p.write_text(text)
            paths[key] = p
        proc = subprocess.run([settings.PROMTOOL, "check", "rules", *map(str, paths.values())],  # noqa: S603
                              capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode == 0:
            return {}
        errors: dict[str, str] = {}
        lines = proc.stderr.splitlines()
        for key, p in paths.items():
            mine = [ln.replace(str(p), "<rules>") for ln in lines if ln.startswith(str(p))]
            if mine:
                errors[key] = "\n".join(mine)[-2000:]
        if not errors:
            # promtool failed in a way we could not attribute: check each file alone, so one org's file
            # never holds back the others'.
            for key, p in paths.items():
                try:
                    _run("promtool", [settings.PROMTOOL, "check", "rules"], p.read_text(), ".yml")
                except CheckFailed as exc:
                    errors[key] = exc.output
        if not errors:  # fails together, passes alone: nothing can be attributed, so nothing is written
            errors = dict.fromkeys(texts, (proc.stderr + proc.stdout)[-2000:])
        return errors
