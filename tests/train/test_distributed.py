"""DDP with 2 gloo processes on the CPU: per-rank batch B on 2 ranks equals one process with
batch 2B on the same data order; only rank 0 writes; an interrupted DDP run resumes exactly; a
signal or a due time-based checkpoint on one rank is acted on by all, at the same log step."""

import csv
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
import _train_ddp_worker as worker  # noqa: E402
from _train_toys import LinearRegression, params, regression_data  # noqa: E402

from tsssl.train import Trainer  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")


@pytest.fixture(scope="module")
def run():
    # own temp dir: a concurrent pytest run may prune tmp_path basetemps under the workers' feet
    tmp = Path(tempfile.mkdtemp(prefix="tsssl-train-ddp-"))
    try:
        x, y = regression_data(64, seed=1)
        torch.manual_seed(0)
        init = params(LinearRegression())
        torch.save({"x": x, "y": y, "init": init}, tmp / "inputs.pt")
        ctx = mp.start_processes(
            worker.run,
            args=(worker.WORLD, str(tmp / "pg"), str(tmp)),
            nprocs=worker.WORLD,
            join=False,
            start_method="spawn",
        )
        deadline = time.monotonic() + 150
        try:
            while not ctx.join(timeout=1):
                if time.monotonic() > deadline:
                    raise TimeoutError("DDP workers did not finish in 150 s")
        finally:
            for p in ctx.processes:
                if p.is_alive():
                    p.terminate()
        ranks = [torch.load(tmp / f"rank{r}.pt") for r in range(worker.WORLD)]
        yield {"tmp": tmp, "x": x, "y": y, "init": init, "ranks": ranks}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def single_process(x, y, init, data=None):
    m = LinearRegression()
    m.load_state_dict(init)
    result = Trainer(batch_size=worker.PER_RANK * worker.WORLD, **worker.TRAIN_KW).fit(m, data or (x, y))
    return m, result


@pytest.mark.parametrize("name", ["tensors", "dataset"])
def test_two_ranks_equal_one_process_with_twice_the_batch(run, name):
    m, result = single_process(run["x"], run["y"], run["init"])
    for res in run["ranks"]:
        for k, v in params(m).items():
            torch.testing.assert_close(res[name]["params"][k], v, rtol=0, atol=1e-5)
        assert res[name]["steps"] == [h["step"] for h in result.history] == [2, 4, 6, 8, 10]
        # logged losses are averaged over the ranks: the mean over the global batch
        torch.testing.assert_close(
            torch.tensor(res[name]["losses"]), torch.tensor([h["loss"] for h in result.history]), rtol=1e-5, atol=1e-6
        )
    # the ranks hold identical parameters (DDP kept them in sync)
    for k, v in run["ranks"][0][name]["params"].items():
        assert torch.equal(run["ranks"][1][name]["params"][k], v)


def test_only_rank_zero_writes(run):
    for name in ("tensors", "dataset"):
        rank0, rank1 = run["tmp"] / name / "rank0", run["tmp"] / name / "rank1"
        assert sorted(p.name for p in rank0.iterdir()) == ["checkpoint.pt", "log.csv"]
        assert not rank1.exists() or list(rank1.iterdir()) == []
        rows = list(csv.DictReader(open(rank0 / "log.csv")))
        assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10]
        # throughput counts the samples of both ranks
        assert all(float(r["samples_per_s"]) > 0 for r in rows)


def test_interrupted_ddp_run_resumes_exactly(run):
    for res in run["ranks"]:
        straight, resumed = res["noisy_straight"], res["noisy_resumed"]
        assert resumed["steps"] == straight["steps"]
        torch.testing.assert_close(
            torch.tensor(resumed["losses"]), torch.tensor(straight["losses"]), rtol=1e-6, atol=1e-7
        )
        for k, v in straight["params"].items():
            torch.testing.assert_close(resumed["params"][k], v, rtol=1e-6, atol=1e-7)
    shared = run["tmp"] / "noisy_resumed"
    assert sorted(p.name for p in shared.iterdir()) == ["checkpoint.pt", "log.csv"]
    rows = list(csv.DictReader(open(shared / "log.csv")))
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10]


def test_each_rank_seeds_its_own_random_stream(run):
    # a fresh run seeds torch with seed + rank: augmentations differ between ranks
    for rank, res in enumerate(run["ranks"]):
        expected = torch.rand(3, generator=torch.Generator().manual_seed(worker.TRAIN_KW["seed"] + rank))
        assert torch.equal(res["tensors"]["rand_after"], expected)


def test_a_signal_to_one_rank_stops_every_rank_at_the_next_log_step(run):
    """SIGINT reaches rank 1 after step 5; log_every=2: both ranks checkpoint step 6 and raise,
    and the resume from there equals the straight run."""
    ckpt = run["tmp"] / "noisy_signal" / "checkpoint.pt"
    messages = [r["interrupts"]["stopped"] for r in run["ranks"]]
    assert messages[0] == {
        "message": f"interrupted at step 6 of 10 (a signal to another rank); checkpoint written to {ckpt}",
        "step": 6,
        "signal": None,
    }
    assert messages[1] == {
        "message": f"interrupted at step 6 of 10 (SIGINT); checkpoint written to {ckpt}",
        "step": 6,
        "signal": "SIGINT",
    }
    for res in run["ranks"]:
        for k, v in res["noisy_straight"]["params"].items():
            torch.testing.assert_close(res["interrupts"]["resumed"][k], v, rtol=1e-6, atol=1e-7)


def test_a_time_based_checkpoint_due_on_one_rank_is_taken_by_all(run):
    # rank 0's clock: 10 s a step, due after 30 s -> log steps 4 and 8, then the final one
    assert [r["interrupts"]["timed_checkpoints"] for r in run["ranks"]] == [[4, 8, 10], [4, 8, 10]]
