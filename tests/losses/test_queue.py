"""MemoryQueue: FIFO order, wrap-around, oversized batches, state_dict round trip."""

import pytest
import torch

from tsssl.losses import MemoryQueue


def rows(start, n, dim=2):
    """Rows whose first feature is their global index: start, start+1, ..."""
    return torch.arange(start, start + n, dtype=torch.float32)[:, None].repeat(1, dim)


def test_fills_then_wraps_around_oldest_first():
    q = MemoryQueue(5, 2)
    assert len(q) == 0 and q.keys().shape == (0, 2)
    q.enqueue(rows(0, 3))
    assert q.keys()[:, 0].tolist() == [0, 1, 2]
    q.enqueue(rows(3, 4))  # 7 keys in a queue of 5: 0 and 1 overwritten
    assert len(q) == 5 and int(q.ptr) == 2
    assert q.keys()[:, 0].tolist() == [2, 3, 4, 5, 6]
    q.enqueue(rows(7, 1))
    assert q.keys()[:, 0].tolist() == [3, 4, 5, 6, 7]


def test_batch_larger_than_queue_keeps_the_newest():
    q = MemoryQueue(4, 2)
    q.enqueue(rows(0, 2))
    q.enqueue(rows(10, 9))
    assert q.keys()[:, 0].tolist() == [15, 16, 17, 18]
    q.enqueue(rows(30, 1))
    assert q.keys()[:, 0].tolist() == [16, 17, 18, 30]


def test_enqueue_detaches_and_casts():
    q = MemoryQueue(3, 2)
    k = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    q.enqueue(k * 2)
    assert not q.keys().requires_grad and q.keys().dtype == torch.float32
    torch.testing.assert_close(q.keys(), (k * 2).detach().float())


def test_state_dict_round_trip_restores_contents_and_pointer():
    q = MemoryQueue(4, 2)
    q.enqueue(rows(0, 6))
    state = q.state_dict()
    assert set(state) == {"queue", "ptr", "count"}
    fresh = MemoryQueue(4, 2)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.keys(), q.keys())
    q.enqueue(rows(100, 1))
    fresh.enqueue(rows(100, 1))
    torch.testing.assert_close(fresh.keys(), q.keys())
    assert fresh.keys()[:, 0].tolist() == [3, 4, 5, 100]


def test_argument_errors():
    with pytest.raises(ValueError, match="size"):
        MemoryQueue(0, 2)
    with pytest.raises(ValueError, match="dim"):
        MemoryQueue(3, 2.5)
    with pytest.raises(ValueError, match="dim=2"):
        MemoryQueue(3, 2).enqueue(torch.randn(2, 3))
    with pytest.raises(ValueError, match="keys"):
        MemoryQueue(3, 2).enqueue(torch.randn(2))
