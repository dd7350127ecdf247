"""An output folder owned by one run at a time, checked before anything is written into it.

    with RunFolder(out, kind="train", resume=False, overwrite=False, force=False) as folder:
        ...  # every write of the run goes into folder.path

Ownership is a lock file (``.tsssl.lock``: pid, host, start time, command) created with
``O_CREAT | O_EXCL``, so two runs started into the same folder cannot both hold it. A lock left
by a process that is gone (same host, pid no longer running) is *stale*: it is reported, and
``force=True`` (``--force``) takes it over; a live one is refused, naming its pid and host.

What may already be in the folder (docs/design.md, "Conventions"):

- nothing, or the folder does not exist: a fresh run;
- ``resume=True``: the run's own checkpoint must be there;
- a finished run, an interrupted one, or files tsssl did not write: refused unless
  ``overwrite=True``, which removes tsssl's own outputs of that kind first (never other files).

No torch here: the CLI checks the folder before importing the heavy parts.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

LOCK_NAME = ".tsssl.lock"
#: what each kind of run writes (the files ``overwrite`` may remove, and the ones that are "ours")
OUTPUTS: dict[str, tuple[str, ...]] = {
    "train": ("checkpoint.pt", "config.toml", "metrics.json", "log.csv", "tb"),
    "report": ("report.md", "report.json", "report.html", "predictions.npz", "config.toml", "cells"),
}
#: the file a resumed run continues from
RESUME_FROM = {"train": "checkpoint.pt", "report": "config.toml"}
#: the file that says a run of that kind finished
FINISHED = {"train": "metrics.json", "report": "report.json"}


def timestamped(name: str) -> Path:
    """The default output folder of a run called ``name``: ``runs/<name>-<YYYYmmdd-HHMMSS>``."""
    return Path("runs") / f"{name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"


class FolderInUseError(ValueError):
    """The folder is locked by a live run, or by a stale lock that was not taken over."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def read_lock(path: Path) -> dict[str, Any]:
    """The lock file's fields (pid, host, started, command); {} when unreadable (a half-written lock)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _describe(info: dict[str, Any]) -> str:
    return f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since {info.get('started', '?')}"


def lock_is_stale(info: dict[str, Any]) -> bool:
    """A lock of this host whose process is gone (a lock of another host cannot be checked: live)."""
    pid = info.get("pid")
    return info.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid)


class RunFolder:
    """The checks and the lock of one run's output folder (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike, kind: str, resume: bool = False, overwrite: bool = False, force: bool = False
    ) -> None:
        if kind not in OUTPUTS:
            raise ValueError(f"kind must be one of {', '.join(OUTPUTS)}, got {kind!r}")
        self.path, self.kind = Path(path), kind
        self.resume, self.overwrite, self.force = resume, overwrite, force
        self.lock_path = self.path / LOCK_NAME
        self._held = self._created = False

    # -- checks ---------------------------------------------------------------------------
    def check(self) -> None:
        """Every check that needs no lock: ValueError naming the folder and the flag that would help."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise ValueError(f"--out {p} is a file, expected a folder")
        if self.resume and self.overwrite:
            raise ValueError("--resume continues the run in --out, --overwrite replaces it: give one of them")
        if self.resume:
            if not (p / RESUME_FROM[self.kind]).is_file():
                raise ValueError(f"--resume: no {RESUME_FROM[self.kind]} in {p} to continue from")
            return
        present = self.contents()
        if not present or self.overwrite:
            return
        ours = set(OUTPUTS[self.kind])
        if (p / "checkpoint.pt").exists() and self.kind == "train":
            state = "a finished run" if (p / FINISHED[self.kind]).exists() else "an interrupted run"
            raise ValueError(
                f"{p} already holds {state} (checkpoint.pt); pass --resume to continue it, "
                "--overwrite to replace it, or choose another --out"
            )
        if (p / FINISHED[self.kind]).exists():
            raise ValueError(
                f"{p} already holds a {self.kind} ({FINISHED[self.kind]}); choose another --out or pass --overwrite"
            )
        if (p / RESUME_FROM[self.kind]).exists():
            raise ValueError(f"{p} holds an unfinished {self.kind}; pass --resume to continue it, --overwrite to "
                             "replace it, or choose another --out")  # fmt: skip
        foreign = sorted(n for n in present if n not in ours)
        noun = {"train": "run (killed before its first checkpoint)", "report": "report"}[self.kind]
        what = f"files tsssl did not write ({', '.join(foreign[:5])})" if foreign else f"an unfinished {noun}"
        raise ValueError(f"{p} is not empty: it holds {what}; choose another --out or pass --overwrite")

    def contents(self) -> list[str]:
        """The names in the folder, the lock file left out ([] when it does not exist)."""
        if not self.path.is_dir():
            return []
        return sorted(e.name for e in self.path.iterdir() if e.name != LOCK_NAME)

    # -- the lock ---------------------------------------------------------------------------
    def acquire(self) -> None:
        """Create the folder and take its lock (O_EXCL): FolderInUseError when another run has it."""
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        for _ in range(2):
            try:
                fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_or_refuse()
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(info, fh)
            self._held = True
            return
        raise FolderInUseError(f"{self.path} is in use: its lock {self.lock_path} came back while taking it over")

    def _take_over_or_refuse(self) -> None:
        holder = read_lock(self.lock_path)
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            raise FolderInUseError(f"{self.path} is already held by this process")
        stale = lock_is_stale(holder)
        if self.force:
            self.lock_path.unlink(missing_ok=True)
            return
        if stale:
            raise FolderInUseError(
                f"{self.path} has a stale lock from {_describe(holder)} (that process is gone, e.g. killed); "
                f"pass --force to take the folder over"
            )
        raise FolderInUseError(
            f"{self.path} is in use by another tsssl run ({_describe(holder)}); wait for it, choose another "
            f"--out, or pass --force if that run is gone"
        )

    def release(self) -> None:
        """Remove the lock if this run holds it, and the folder if this run made it and wrote nothing."""
        if self._held:
            holder = read_lock(self.lock_path)
            if holder.get("pid") == os.getpid():
                self.lock_path.unlink(missing_ok=True)
            self._held = False
            if self._created and not self.contents():
                self.path.rmdir()

    def clear_outputs(self) -> None:
        """``overwrite``: remove this kind's own outputs from the folder (never other files)."""
        for name in OUTPUTS[self.kind]:
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()

    def __enter__(self) -> RunFolder:
        if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 owns the folder and writes
            return self
        self.check()
        self.acquire()
        try:
            self.check()  # again under the lock: another run may have written in between
            if self.overwrite:
                self.clear_outputs()
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
