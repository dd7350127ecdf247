"""tsssl.memory: RSS and its peak, as the benchmarks read them."""

import subprocess
import sys

import pytest

from tsssl import memory

_TRANSIENT = """
import numpy as np
from tsssl import memory
if not memory.reset_peak_rss():
    print("no-reset")
    raise SystemExit
before = memory.peak_rss_mib()
block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched, then freed
del block
print(memory.peak_rss_mib() - before)
"""


def test_peak_rss_sees_a_transient_allocation():
    # in a fresh interpreter: in the test process, memory that other tests' threads free between
    # the reset and the allocation can hide the 64 MiB from the high-water mark
    out = subprocess.run([sys.executable, "-c", _TRANSIENT], capture_output=True, text=True, check=True).stdout
    if out.strip() == "no-reset":
        pytest.skip("no /proc/self/clear_refs here: the peak cannot be reset")
    assert float(out) >= 60


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/status is Linux only")
def test_status_fields_and_maxrss_agree_on_linux():
    rss, hwm = memory.status_kib("VmRSS"), memory.status_kib("VmHWM")
    assert rss is not None and hwm is not None and 0 < rss <= hwm
    assert memory.status_kib("NoSuchField") is None
    # ru_maxrss is the peak since start: never below the current RSS (both in MiB here)
    assert memory.maxrss_mib() >= rss / 1024 - 1
