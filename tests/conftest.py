"""Shared test settings.

OpenMP threads that spin while they wait collapse throughput when the cores are shared (CI's
2 cores, several processes): measured 195 s -> 12 s for the method tests on a loaded 2-core box.
It only takes effect before torch is first imported, hence here, at collection time.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
