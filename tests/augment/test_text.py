"""Text augmentation: BERT's 80/10/10 masking statistics."""

import pytest
import torch

from tsssl.augment.text import IGNORE, bert_mask
from tsssl.data.text import CLS_ID, MASK_ID, PAD_ID


def test_bert_masking_statistics():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 100, (4000, 20), generator=g)
    ids[:, 0] = CLS_ID
    ids[:, 15:] = PAD_ID
    inputs, labels = bert_mask(ids, vocab_size=100, mask_prob=0.15, generator=g)
    chosen = labels != IGNORE
    assert not chosen[:, 0].any() and not chosen[:, 15:].any()  # never [CLS] / [PAD]
    assert chosen.any(dim=1).all()  # every sentence has a target
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    # 15% of the 14 words, plus one word in the 0.85^14 of sentences where none was drawn
    assert abs(chosen[:, 1:15].float().mean().item() - (0.15 + 0.85**14 / 14)) < 0.006
    masked = (inputs[chosen] == MASK_ID).float().mean().item()
    kept = (inputs[chosen] == ids[chosen]).float().mean().item()
    changed = ((inputs[chosen] != MASK_ID) & (inputs[chosen] != ids[chosen])).float().mean().item()
    assert abs(masked - 0.8) < 0.015 and abs(kept - 0.1) < 0.01 and abs(changed - 0.1) < 0.01
    random_words = inputs[chosen][(inputs[chosen] != MASK_ID) & (inputs[chosen] != ids[chosen])]
    assert random_words.min() >= 4 and random_words.max() < 100  # words only, no special token
    with pytest.raises(ValueError, match="mask_prob"):
        bert_mask(ids, 100, mask_prob=0.0)
