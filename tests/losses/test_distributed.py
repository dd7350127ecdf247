"""Two gloo processes on the CPU with uneven batches (3 and 5 rows) equal one process on 8.

Convention checked (tsssl.losses.gather): every rank returns the global-batch loss; the gradient
w.r.t. rank r's embeddings is world_size x the one-process gradient of its rows; after DDP's
averaging a linear model's parameter gradients equal the one-process gradients exactly.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
import _dist_worker as worker  # noqa: E402

WORLD = len(worker.SIZES)

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")


@pytest.fixture(scope="module")
def run():
    """Spawn the two ranks once; return (inputs, one-process reference, per-rank results)."""
    # Own temp dir, not tmp_path: pytest prunes old basetemp dirs, so a concurrent pytest run on
    # the same machine can delete tmp_path under the workers' feet.
    tmp = Path(tempfile.mkdtemp(prefix="tsssl-dist-"))
    try:
        yield _spawn(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _spawn(tmp: Path):
    inputs = worker.make_inputs()
    torch.save(inputs, tmp / "inputs.pt")
    ctx = mp.start_processes(
        worker.run, args=(WORLD, str(tmp / "pg"), str(tmp)), nprocs=WORLD, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 120
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                raise TimeoutError("distributed workers did not finish in 120 s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
    ranks = [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]
    return inputs, worker.reference(inputs), ranks


def _rows(r):
    return slice(sum(worker.SIZES[:r]), sum(worker.SIZES[: r + 1]))


def test_process_group_is_seen_as_distributed(run):
    _, _, ranks = run
    for r, res in enumerate(ranks):
        assert res["is_distributed"] and res["world_size"] == WORLD and res["rank"] == r


@pytest.mark.parametrize("name", list(worker.CASES))
def test_loss_value_equals_one_process_on_the_concatenated_batch(run, name):
    _, ref, ranks = run
    for res in ranks:
        torch.testing.assert_close(res[name]["loss"], ref[name]["loss"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(worker.CASES))
def test_embedding_gradients_are_world_size_times_the_global_gradient(run, name):
    _, ref, ranks = run
    for r, res in enumerate(ranks):
        for g in ("g1", "g2"):
            torch.testing.assert_close(res[name][g], WORLD * ref[name][g][_rows(r)], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(worker.CASES))
def test_ddp_averaged_parameter_gradients_equal_one_process(run, name):
    _, ref, ranks = run
    for res in ranks:
        torch.testing.assert_close(res[name]["gw"], ref[name]["gw"], rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(res[name]["gb"], ref[name]["gb"], rtol=1e-9, atol=1e-12)


def test_every_gathering_loss_is_covered():
    gathering = {
        "nt_xent",
        "info_nce",
        "n_pair",
        "supcon",
        "soft_nearest_neighbors",
        "lifted_structured",
        "barlow_twins",
        "vicreg",
    }
    assert gathering <= set(worker.CASES)


def test_info_nce_with_a_mask_stays_local(run):
    inputs, _, ranks = run
    from tsssl.losses import info_nce

    for r, res in enumerate(ranks):
        rows = _rows(r)
        mask = torch.eye(worker.SIZES[r], dtype=torch.bool)
        expected = info_nce(inputs["z1"][rows], inputs["z2"][rows], mask, temperature=0.2)
        torch.testing.assert_close(res["info_nce_mask_local"], expected)


def test_gather_strips_the_padding_of_uneven_batches(run):
    inputs, _, ranks = run
    for r, res in enumerate(ranks):
        assert res["sizes"] == worker.SIZES and res["offset"] == sum(worker.SIZES[:r])
        torch.testing.assert_close(res["gathered"], inputs["z1"])


def test_memory_queue_enqueues_the_gathered_keys_on_every_rank(run):
    inputs, _, ranks = run
    both = torch.cat([inputs["z1"], inputs["z2"]]).float()  # 16 keys through a queue of 10
    for res in ranks:
        torch.testing.assert_close(res["queue_after_1"], inputs["z1"].float())
        torch.testing.assert_close(res["queue_after_2"], both[-10:])
