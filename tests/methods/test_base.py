"""The shared pieces of tsssl.methods.base: split_batch, first_view, frozen_copy, eval_mode, the
Method class attributes (uses_labels, causal_encoder) and TwoViewMethod's default views."""

import pytest
import torch
from torch import nn

from tsssl.augment import default_timeseries_views
from tsssl.augment.compose import TwoViews
from tsssl.encoders import LSTMEncoder
from tsssl.methods import BYOL, CPC, BarlowTwins, FineTune, Method, MoCo, SiamCL, SimCLR, SimSiam, SupervisedBaseline
from tsssl.methods.base import TwoViewMethod, eval_mode, first_view, frozen_copy, split_batch

TWO_VIEW = [SiamCL, SimCLR, MoCo, BYOL, SimSiam, BarlowTwins]


def test_split_batch_takes_a_tensor_a_1_tuple_and_a_pair():
    x, y = torch.randn(4, 20, 3), torch.tensor([0, 1, 0, 1])
    assert split_batch(x)[0] is x and split_batch(x)[1] is None
    assert split_batch((x,))[0] is x and split_batch((x,))[1] is None
    assert split_batch([x])[1] is None
    xs, ys = split_batch((x, y))
    assert xs is x and ys is y


def test_first_view_is_the_input_without_views_else_the_first_view():
    x = torch.randn(2, 5, 1)
    assert first_view(None, x) is x
    assert torch.equal(first_view(lambda v: (v + 1, v - 1), x), x + 1)


def test_frozen_copy_is_an_independent_copy_without_gradient():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    copy_ = frozen_copy(net)
    assert copy_ is not net and type(copy_) is type(net)
    assert all(not p.requires_grad for p in copy_.parameters())
    assert all(p.requires_grad for p in net.parameters())  # the original is left trainable
    for (name, a), (name_c, c) in zip(net.state_dict().items(), copy_.state_dict().items()):
        assert name == name_c and torch.equal(a, c)
        assert a.data_ptr() != c.data_ptr()  # its own storage
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert not torch.equal(next(net.parameters()), next(copy_.parameters()))


def test_eval_mode_restores_the_mode_even_after_an_error():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with eval_mode(net) as m:
        assert m is net and not net.training and not net[1].training
    assert net.training and net[1].training
    net.eval()
    with eval_mode(net):
        pass
    assert not net.training
    net.train()
    with pytest.raises(RuntimeError), eval_mode(net):
        raise RuntimeError("boom")
    assert net.training


def test_uses_labels_marks_the_methods_that_train_on_labels():
    assert Method.uses_labels is False
    assert SupervisedBaseline.uses_labels is True and FineTune.uses_labels is True
    # SiamCL(supervised=True) uses labels only when the batch has them: not a labelled method
    for cls in (*TWO_VIEW, CPC):
        assert cls.uses_labels is False, cls.__name__
    assert SiamCL(LSTMEncoder(3, hidden=4), supervised=True).uses_labels is False


def test_causal_encoder_is_set_on_cpc_only():
    assert Method.causal_encoder is False and CPC.causal_encoder is True
    for cls in (*TWO_VIEW, SupervisedBaseline, FineTune):
        assert cls.causal_encoder is False, cls.__name__


@pytest.mark.parametrize("cls", TWO_VIEW)
def test_two_view_methods_default_to_the_timeseries_views(cls):
    torch.manual_seed(0)
    method = cls(LSTMEncoder(3, hidden=4))
    assert isinstance(method, TwoViewMethod)
    assert isinstance(method.views, TwoViews) and repr(method.views) == repr(default_timeseries_views())
    views = lambda x: (x, x.flip(1))  # noqa: E731
    assert cls(LSTMEncoder(3, hidden=4), views).views is views


def test_project_views_is_one_pass_of_the_projection_over_both_views():
    torch.manual_seed(0)
    method = SimCLR(LSTMEncoder(3, hidden=4))
    method.eval()  # batch-norm in the head: fixed statistics, so one pass equals two
    v1, v2 = torch.randn(5, 10, 3), torch.randn(5, 10, 3)
    z1, z2 = method.project_views(v1, v2)
    assert z1.shape == (5, 64) and z2.shape == (5, 64)
    assert torch.allclose(z1, method.project(v1), atol=1e-6) and torch.allclose(z2, method.project(v2), atol=1e-6)
    assert torch.allclose(method.project(v1), method.projector(method.encoder(v1)))
