"""``lr_finder`` keeps the seed document's call and, where the seed is right, its results."""

from __future__ import annotations

import inspect
from copy import deepcopy

import numpy as np
import torch
from conftest import make_blobs, small_mlp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrsweep


def seed_lr_finder(model, OptType, train_dataloader, val_dataloader,  # noqa: N803
                   Criterion=nn.CrossEntropyLoss, start_lr=1e-8, end_lr=0.1,  # noqa: N803
                   warmup_epochs=0, training_epochs=1):
    """The seed document's loop, verbatim but for the print (the reference)."""
    assert warmup_epochs < training_epochs
    rsts = {}
    lr_range = np.logspace(np.log10(start_lr), np.log10(end_lr), 10)
    init_wts = deepcopy(model.state_dict())
    device = next(model.parameters()).device
    criterion = Criterion().to(device)
    for i, lr in enumerate(lr_range):
        if i != 0:
            model.load_state_dict(init_wts)
        warmup_batches = warmup_epochs * len(train_dataloader)
        batch_cnt = 1
        if warmup_batches != 0:
            optimizer = OptType(model.parameters(), lr=lr * batch_cnt / warmup_batches)
        else:
            optimizer = OptType(model.parameters(), lr=lr)
        model.train()
        for _ in range(training_epochs):
            for inputs, targets in train_dataloader:
                inputs, targets = inputs.to(device), targets.to(device)
                optimizer.zero_grad()
                outputs = model(inputs)
                loss = criterion(outputs, targets)
                loss.backward()
                optimizer.step()
                batch_cnt += 1
                if batch_cnt < warmup_batches:
                    for param_group in optimizer.param_groups:
                        param_group['lr'] = lr * batch_cnt / warmup_batches
        model.eval()
        correct, total = 0, 0
        with torch.no_grad():
            for inputs, targets in val_dataloader:
                inputs, targets = inputs.to(device), targets.to(device)
                outputs = model(inputs)
                _, preds = torch.max(outputs, 1)
                correct += (preds == targets).sum().item()
                total += targets.size(0)
        acc = correct / total
        rsts[lr] = acc
    return rsts


def loaders():
    x, y = make_blobs(n=320)
    train = DataLoader(TensorDataset(x[:256], y[:256]), batch_size=32, shuffle=False)
    val = DataLoader(TensorDataset(x[256:], y[256:]), batch_size=32, shuffle=False)
    return train, val


def test_same_signature_as_the_seed():
    ours = inspect.signature(lrsweep.lr_finder).parameters
    seed = inspect.signature(seed_lr_finder).parameters
    assert list(ours)[:len(seed)] == list(seed)
    assert all(ours[k].default == seed[k].default for k in seed)


def test_equivalent_to_the_seed_loop_without_warmup():
    train, val = loaders()
    model = small_mlp()
    ours = lrsweep.lr_finder(model, torch.optim.Adam, train, val, start_lr=1e-4, end_lr=0.1,
                             training_epochs=2, engine="sequential")
    theirs = seed_lr_finder(deepcopy(model), torch.optim.Adam, train, val, start_lr=1e-4,
                            end_lr=0.1, training_epochs=2)
    assert len(ours) == 10
    assert list(ours) == [float(f"{lr:.12g}") for lr in theirs]
    assert list(ours.values()) == list(theirs.values())
    assert len(set(ours.values())) > 3  # the task discriminates between LRs


def test_model_left_untouched_and_warmup_fixed():
    train, val = loaders()
    model = small_mlp()
    before = deepcopy(model.state_dict())
    res = lrsweep.lr_finder(model, torch.optim.SGD, train, val, start_lr=1e-3, end_lr=1.0,
                            warmup_epochs=1, training_epochs=2, engine="sequential")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(0.0 <= v <= 1.0 or np.isnan(v) for v in res.values())


def test_docstring_lists_the_differences():
    doc = lrsweep.lr_finder.__doc__
    for word in ("warmup", "data order", "diverged", "untouched", "assert"):
        assert word in doc


def test_bad_warmup_is_an_error_not_an_assert():
    train, val = loaders()
    try:
        lrsweep.lr_finder(small_mlp(), torch.optim.SGD, train, val, warmup_epochs=1,
                          training_epochs=1)
    except lrsweep.LRSweepError as e:
        assert "warmup" in str(e)
    else:
        raise AssertionError("expected an LRSweepError")


def test_the_docstring_says_what_the_recipe_is_in_english():
    import importlib

    mod = importlib.import_module("lrsweep.lr_finder")
    doc = (mod.__doc__ or "") + (mod.lr_finder.__doc__ or "")
    assert "classic lr_finder recipe" in doc and "log-spaced" in doc
    assert not any("\u4e00" <= c <= "\u9fff" for c in doc)  # no untranslated title
