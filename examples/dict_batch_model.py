"""A model shaped like a Hugging Face one (keyword inputs, returns an object with .loss and
.logits) swept with no extra code. Runs in seconds on a CPU; no download.

    python examples/dict_batch_model.py
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

import lrsweep


@dataclass
class Output:
    loss: torch.Tensor | None
    logits: torch.Tensor


class TinyClassifier(nn.Module):
    """Token ids -> mean-pooled embedding -> classes; computes its own loss from labels."""

    def __init__(self, vocab: int = 64, width: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.head = nn.Linear(width, classes)

    def forward(self, input_ids, attention_mask, labels=None) -> Output:
        h = self.embed(input_ids) * attention_mask[..., None]
        logits = self.head(h.sum(1) / attention_mask.sum(1, keepdim=True))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return Output(loss, logits)


def make_data(n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)
    ids = torch.randint(0, 64, (n, 12), generator=g)
    ids[:, :3] = labels[:, None] * 16 + torch.randint(0, 16, (n, 3), generator=g)  # signal
    return {"input_ids": ids, "attention_mask": torch.ones(n, 12), "labels": labels}


def main() -> None:
    torch.manual_seed(0)
    task = lrsweep.Task(TinyClassifier(), torch.optim.AdamW, make_data(2048, 0),
                        make_data(512, 1), batch_size=64, epochs=1, metric="accuracy")
    result = lrsweep.sweep(task, lrsweep.log_grid(1e-4, 1.0, 9))
    print(result.table())
    best = result.best()
    print(f"best lr {best.lr:.3g}: accuracy {best.metric:.3f}")


if __name__ == "__main__":
    main()
