"""Sweep the LR of a Hugging Face Trainer set-up, in one line: the TrainingArguments, model_init,
datasets and collator you already have become an lrsweep Task that trains what the Trainer
would train (the trial's LR and seed replace args.learning_rate and args.seed).

A tiny randomly initialised GPT-2 (no download) learns sequences that count up modulo 32.

    python examples/hf_trainer.py
"""

from __future__ import annotations

import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel, TrainingArguments

import lrsweep
from lrsweep.integrations.transformers import task_from_trainer

VOCAB, LENGTH = 32, 16


class Counting(torch.utils.data.Dataset):
    """Token sequences counting up mod VOCAB from a random start, 10% of tokens noise."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        x = (torch.randint(0, VOCAB, (n, 1), generator=g) + torch.arange(LENGTH)) % VOCAB
        noise = torch.rand(x.shape, generator=g) < 0.1
        self.x = torch.where(noise, torch.randint(0, VOCAB, x.shape, generator=g), x)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.x[i], "labels": self.x[i]}


def model_init() -> GPT2LMHeadModel:
    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=64,
                                      n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0,
                                      loss_type="ForCausalLM"))


def main() -> None:
    torch.set_num_threads(1)
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), report_to="none", use_cpu=True, save_strategy="no",
        per_device_train_batch_size=16, gradient_accumulation_steps=2, max_steps=30,
        warmup_steps=0.1, lr_scheduler_type="cosine", weight_decay=0.01, seed=0)
    task = task_from_trainer(model_init, args, Counting(512, 0), Counting(128, 1))
    print(task)
    result = lrsweep.sweep(task, lrsweep.log_grid(3e-4, 1e-1, 6), seeds=(0,))
    print(result.table())
    print(f"best lr {result.best().lr:.3g} (eval_loss {result.best().metric:.3f})")
    print(result.optimum())


if __name__ == "__main__":
    main()
