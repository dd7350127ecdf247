"""ConvDecoder: a code to an image of the asked size (powers of two and other sides), trainable
end to end, and clear errors for a bad code or bad sizes."""

import pytest
import torch

from tsssl.encoders.image_decoder import ConvDecoder


@pytest.mark.parametrize(("size", "channels"), [(8, (16, 8)), (16, (16, 8)), (12, (8,)), (1, (4,))])
def test_output_has_the_asked_size(size, channels):
    dec = ConvDecoder(5, size, channels, out_channels=3)
    assert dec(torch.randn(4, 5)).shape == (4, 3, size, size)


def test_it_learns_to_paint_a_fixed_image_from_its_code():
    torch.manual_seed(0)
    dec = ConvDecoder(4, 8, (8, 8))
    z, target = torch.randn(16, 4), torch.rand(16, 1, 8, 8)
    opt = torch.optim.Adam(dec.parameters(), lr=2e-2)
    first = None
    for _ in range(40):
        loss = (dec(z) - target).pow(2).mean()
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_bad_input_raises_a_clear_error():
    dec = ConvDecoder(4, 8)
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        dec(torch.randn(2, 5))
    with pytest.raises(ValueError, match="channels"):
        ConvDecoder(4, 8, ())
    with pytest.raises(ValueError, match="size"):
        ConvDecoder(4, 0)
