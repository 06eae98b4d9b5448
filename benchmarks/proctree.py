"""Peak memory of a process tree (a driver plus the Ray processes it starts), sampled with psutil.

``ray.init()`` in a driver starts the GCS and the raylet as the driver's children, and
the raylet forks the workers (Ray Data actors, Serve replicas and controller), so the
tree under the driver is the whole local Ray instance. RSS counts the shared object
store once per process that maps it; PSS (proportional set size) splits shared pages
among the processes that share them, so the sum of PSS is the tree's real footprint.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil


def _role(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "driver"
    try:
        name = proc.name()
        cmd = " ".join(proc.cmdline()[:3])
    except psutil.Error:
        return "other"
    if "raylet" in name or "gcs_server" in name or "raylet" in cmd or "gcs_server" in cmd:
        return "raylet+gcs"
    if "ray::" in name or "default_worker" in cmd or "ray::" in cmd:
        return "workers"
    return "other"


@dataclass
class TreeSampler:
    """Samples the summed PSS and RSS of ``pid`` and all its descendants every ``interval`` seconds,
    and the CPU seconds the tree has used (each process's last seen user + system time)."""

    pid: int
    interval: float = 0.5
    peak_pss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    peak_by_role_mb: dict[str, float] = field(default_factory=dict)
    peak_processes: int = 0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, PSS MB)
    driver_samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, the root process's PSS MB)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, CPU seconds of the tree so far)
    _cpu: dict[tuple[int, float], float] = field(default_factory=dict)  # (pid, start time) -> CPU seconds last seen
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        """One sample of the tree; updates the peaks."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        pss = rss = 0.0
        roles: dict[str, float] = {}
        for proc in procs:
            try:
                info = proc.memory_full_info()
                cpu = proc.cpu_times()
                self._cpu[(proc.pid, proc.create_time())] = cpu.user + cpu.system
            except psutil.Error:
                continue
            mb = getattr(info, "pss", info.rss) / 2**20
            pss += mb
            rss += info.rss / 2**20
            role = _role(proc, self.pid)
            roles[role] = roles.get(role, 0.0) + mb
        self.samples.append((time.time(), pss))
        self.driver_samples.append((time.time(), roles.get("driver", 0.0)))
        self.cpu_samples.append((time.time(), sum(self._cpu.values())))
        self.peak_pss_mb = max(self.peak_pss_mb, pss)
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        self.peak_processes = max(self.peak_processes, len(procs))
        for role, mb in roles.items():
            self.peak_by_role_mb[role] = max(self.peak_by_role_mb.get(role, 0.0), mb)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak_between(self, start: float, end: float, *, driver: bool = False) -> float:
        """Peak summed PSS (MB) of the samples taken between two epoch times (``driver``: of
        the root process alone)."""
        return max((mb for t, mb in (self.driver_samples if driver else self.samples) if start <= t <= end), default=0.0)

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the tree used between two epoch times (to the nearest samples; a process
        that ended between samples counts up to its last sample)."""
        before = [cpu for t, cpu in self.cpu_samples if t <= start]
        upto = [cpu for t, cpu in self.cpu_samples if t <= end]
        return (upto[-1] if upto else 0.0) - (before[-1] if before else 0.0)

    def timeline(self, points: int = 200) -> list[tuple[float, float]]:
        """At most ``points`` samples as (seconds since the first sample, PSS MB)."""
        if not self.samples:
            return []
        t0 = self.samples[0][0]
        return [(round(t - t0, 1), round(mb, 1)) for t, mb in self.samples[:: max(1, len(self.samples) // points)]]

    def report(self) -> dict:
        return {
            "peak_pss_mb": round(self.peak_pss_mb, 1),
            "peak_rss_sum_mb": round(self.peak_rss_mb, 1),
            "peak_by_role_pss_mb": {k: round(v, 1) for k, v in sorted(self.peak_by_role_mb.items())},
            "peak_processes": self.peak_processes,
        }
