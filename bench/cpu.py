"""CPU time of processes and of the machine, from /proc (Linux): where a phase's work went."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def ticks(pid: int) -> int:
    """A process's CPU time so far (user + system, in clock ticks); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def machine() -> tuple[int, int]:
    """(busy, all) clock ticks of every core so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


class Phase:
    """CPU seconds each named process spent between start() and stop(), and how busy the
    machine was meanwhile (other work included)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.spent: dict[str, float] = {}
        self.busy = 0.0

    def start(self) -> Phase:
        self._before = {name: ticks(pid) for name, pid in self.pids.items()}
        self._machine = machine()
        return self

    def stop(self) -> Phase:
        busy, total = machine()
        self.busy = (busy - self._machine[0]) / max(1, total - self._machine[1])
        self.spent = {name: (ticks(pid) - self._before[name]) / TICK
                      for name, pid in self.pids.items()}
        return self

    def per(self, n: int) -> str:
        """Milliseconds of CPU per unit of work (n units), by process, and the machine's load."""
        parts = [f"{name} {seconds / n * 1000:.1f}" for name, seconds in self.spent.items()]
        return f"CPU ms each: {', '.join(parts)}; cores {self.busy:.0%} busy"


def package_of(path: str) -> str:
    """The package a profiler's source path belongs to: the folder under site-packages; for a
    relative path (py-spy shortens them), its first folder; else the folder the file lies in (a
    project file's part of the project, a standard module's library); else the path itself."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    parts = path.split("/")
    if len(parts) == 1:
        return path
    return parts[0] if parts[0] else parts[-2]
