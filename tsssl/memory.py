"""Process memory for the benchmarks: resident set size (RSS) and its peak, without torch.

Linux reads /proc/self/status (VmRSS, VmHWM) and can reset the high-water mark through
/proc/self/clear_refs, so that the peak of one measured step is exact; elsewhere only
``resource``'s ru_maxrss is known, the peak since the process started.
"""

from __future__ import annotations

import sys
from pathlib import Path


def status_kib(field_name: str) -> int | None:
    """A /proc/self/status field of this process in KiB (e.g. "VmRSS", "VmHWM"); None where
    there is no such file or field (not Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark (Linux >= 4.0); False where that is impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def maxrss_mib() -> float:
    """``resource``'s ru_maxrss in MiB: the peak RSS since the process started (it cannot be reset)."""
    import resource  # not on Windows; imported here so that the module still loads there

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # macOS: bytes, Linux: KiB


def peak_rss_mib() -> float:
    """Peak resident set size in MiB: VmHWM on Linux (since the last ``reset_peak_rss``), else
    ``maxrss_mib``."""
    hwm = status_kib("VmHWM")
    return hwm / 1024 if hwm is not None else maxrss_mib()
