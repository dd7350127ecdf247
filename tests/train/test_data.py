"""Data forms, per-epoch orders from (seed, epoch), per-rank shards, batches cut by index."""

import numpy as np
import pytest
import torch

from tsssl.data.windowset import WindowSet
from tsssl.train.data import DatasetBatches, TensorBatches, as_tensors, epoch_order, make_batches, steps_per_epoch
from tsssl.train.distributed import shard_order


def tiny_windowset(n=10, t=5, c=2, seed=0):
    rng = np.random.default_rng(seed)
    return WindowSet(
        X=rng.normal(size=(n, t, c)).astype(np.float32),
        y=rng.integers(0, 2, n).astype(np.int64),
        end_date=np.arange(n).astype("datetime64[D]").astype("datetime64[ns]"),
        ticker=np.array(["AAA"] * n),
        feature_names=[f"f{i}" for i in range(c)],
    )


def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch():
    a = epoch_order(50, seed=3, epoch=2)
    assert sorted(a.tolist()) == list(range(50))
    assert torch.equal(a, epoch_order(50, seed=3, epoch=2))
    assert not torch.equal(a, epoch_order(50, seed=3, epoch=3))
    assert not torch.equal(a, epoch_order(50, seed=4, epoch=2))


def test_rank_shards_of_a_step_make_up_the_single_process_batch():
    order = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    b, world = 4, 3
    shards = [shard_order(order, b, r, world) for r in range(world)]
    assert all(len(s) == len(shards[0]) == (103 // (b * world)) * b for s in shards)  # equal counts
    single = shard_order(order, b * world, 0, 1)
    for k in range(len(shards[0]) // b):
        union = torch.cat([s[k * b : (k + 1) * b] for s in shards])
        assert torch.equal(union, single[k * b * world : (k + 1) * b * world])
    # no sample is seen twice in an epoch
    every = torch.cat(shards)
    assert len(torch.unique(every)) == len(every)


def test_single_process_without_drop_last_keeps_everything():
    order = torch.arange(10)
    assert torch.equal(shard_order(order, 4, 0, 1, drop_last=False), order)
    assert steps_per_epoch(10, 4, drop_last=False) == 3
    assert steps_per_epoch(10, 4, drop_last=True) == 2
    assert steps_per_epoch(10, 2, world_size=2, drop_last=False) == 2  # DDP always drops


def test_batch_larger_than_data_is_a_clear_error():
    with pytest.raises(ValueError, match="batch_size=64 is larger than the 10 training samples"):
        steps_per_epoch(10, 64)
    with pytest.raises(ValueError, match="no samples"):
        steps_per_epoch(0, 4)


def test_windowset_becomes_x_and_y():
    ws = tiny_windowset()
    x, y = as_tensors(ws)
    assert x.dtype == torch.float32 and x.shape == (10, 5, 2) and y.dtype == torch.int64
    np.testing.assert_array_equal(x.numpy(), ws.X)


def test_bad_data_forms_name_the_problem():
    with pytest.raises(ValueError, match="different first dimensions"):
        as_tensors((torch.zeros(3, 2), torch.zeros(4)))
    with pytest.raises(ValueError, match=r"data\[1\] is a ndarray"):
        as_tensors([torch.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="not supported; accepted"):
        as_tensors(np.zeros((3, 2)))


def test_tensor_batches_follow_the_epoch_order_and_resume_mid_epoch():
    x = torch.arange(20.0).view(10, 2)
    y = torch.arange(10)
    tb = TensorBatches((x, y), 3, torch.device("cpu"), seed=1)
    assert tb.resident and tb.steps_per_epoch == 3
    batches = list(tb.epoch(4))
    order = epoch_order(10, 1, 4)
    for k, (bx, by) in enumerate(batches):
        assert torch.equal(by, order[3 * k : 3 * k + 3])
        assert torch.equal(bx, x[by])
    resumed = list(tb.epoch(4, start=2))
    assert len(resumed) == 1 and all(torch.equal(a, b) for a, b in zip(resumed[0], batches[2]))


def test_dataset_batches_equal_tensor_batches():
    x, y = torch.randn(11, 3), torch.arange(11)
    ds = torch.utils.data.TensorDataset(x, y)
    for rank in (0, 1):
        tensor_path = list(make_batches((x, y), 2, torch.device("cpu"), seed=5, rank=rank, world_size=2).epoch(1, 1))
        dataset_path = list(make_batches(ds, 2, torch.device("cpu"), seed=5, rank=rank, world_size=2).epoch(1, 1))
        assert isinstance(make_batches(ds, 2, torch.device("cpu"), seed=5), DatasetBatches)
        assert len(tensor_path) == len(dataset_path) == 1  # 11 // (2*2) = 2 steps, resumed at step 1
        for a, b in zip(tensor_path, dataset_path):
            assert all(torch.equal(u, v) for u, v in zip(a, b))


# --- windows held as views (WindowViews): gathered per batch ---------------------------------


def views_and_dense(features="ohlcv+padic"):
    from tsssl.data import build_windows
    from tsssl.data.synthetic import synthetic_market

    prices = synthetic_market(3, 90, seed=5)
    return build_windows(prices, features=features, lazy=True), build_windows(prices, features=features, lazy=False)


def test_view_batches_equal_the_dense_tensor_batches_and_resume_mid_epoch():
    from tsssl.train.data import ViewBatches

    lazy, dense = views_and_dense()
    vb = make_batches(lazy, 16, torch.device("cpu"), seed=3, sample_index=True)
    tb = make_batches(dense, 16, torch.device("cpu"), seed=3, sample_index=True)
    assert isinstance(vb, ViewBatches) and not vb.resident and vb.steps_per_epoch == tb.steps_per_epoch
    for epoch, start in ((0, 0), (1, 2)):
        for got, want in zip(vb.epoch(epoch, start), tb.epoch(epoch, start), strict=True):
            assert len(got) == len(want) == 3
            for g, w in zip(got, want):
                assert torch.equal(g, w)


def test_torch_gather_on_the_device_equals_the_numpy_gather():
    from tsssl.train.data import DeviceViews

    for features in ("ohlcv", "ohlcv+padic"):
        lazy, dense = views_and_dense(features)
        idx = torch.from_numpy(np.random.default_rng(0).integers(0, len(dense), 64))
        got = DeviceViews(lazy.X, torch.device("cpu")).gather(idx)
        assert got.dtype == torch.float32 and got.shape == (64, *dense.X.shape[1:])
        np.testing.assert_allclose(got.numpy(), dense.X[idx.numpy()], rtol=1e-6, atol=1e-6)
        resident = make_batches(lazy, 8, torch.device("cpu"), seed=0, on_device=True)
        assert resident.resident
        x, y = next(resident.epoch(0))
        order = epoch_order(len(dense), 0, 0)[:8].numpy()
        np.testing.assert_allclose(x.numpy(), dense.X[order], rtol=1e-6, atol=1e-6)
        assert torch.equal(y, torch.from_numpy(dense.y[order]))


def test_training_on_views_equals_training_on_the_dense_windows():
    from tsssl.methods import build_method
    from tsssl.train import Trainer

    lazy, dense = views_and_dense("ohlcv")
    results = []
    for ws in (dense, lazy):
        torch.manual_seed(0)
        method = build_method("siamcl", 5, encoder="lstm", encoder_kwargs={"hidden": 8})
        trainer = Trainer(device="cpu", progress=False, batch_size=32, max_steps=5, seed=2, log_every=1)
        results.append((trainer.fit(method, ws), method.state_dict()))
    (r_dense, w_dense), (r_lazy, w_lazy) = results
    assert [h["loss"] for h in r_lazy.history] == [h["loss"] for h in r_dense.history]
    assert len(r_lazy.history) == 5
    for name, value in w_dense.items():
        assert torch.equal(w_lazy[name], value), name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_views_are_gathered_on_the_cuda_device_when_the_days_fit():
    lazy, dense = views_and_dense()
    vb = make_batches(lazy, 32, torch.device("cuda"), seed=1)
    tb = make_batches(dense, 32, torch.device("cpu"), seed=1)
    assert vb.resident and vb.on_device.per_day.is_cuda
    for (x, y), (x_ref, y_ref) in zip(vb.epoch(0), tb.epoch(0), strict=True):
        assert x.is_cuda and y.is_cuda
        torch.testing.assert_close(x.cpu(), x_ref, rtol=1e-6, atol=1e-6)
        assert torch.equal(y.cpu(), y_ref)
