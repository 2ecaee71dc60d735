"""The optimizer family a scaling rule depends on: SGD-like or Adam-like."""

from __future__ import annotations

from typing import Any

from ..errors import bad_arg

_SGD_LIKE = ("sgd", "momentum", "nesterov", "asgd")
_ADAM_LIKE = ("adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad", "adafactor",
              "lamb", "lion", "sparseadam", "adadelta")


def optimizer_family(optimizer: Any) -> str:
    """``"sgd"`` or ``"adam"`` for an optimizer name, class or instance.

    >>> optimizer_family("AdamW"), optimizer_family("sgd")
    ('adam', 'sgd')
    """
    name = optimizer if isinstance(optimizer, str) else getattr(
        optimizer, "__name__", type(optimizer).__name__)
    key = str(name).lower().replace("_", "").replace("-", "")
    if key in _SGD_LIKE:
        return "sgd"
    if key in _ADAM_LIKE:
        return "adam"
    raise bad_arg("optimizer", name, "an SGD-like ('sgd') or Adam-like ('adam', 'adamw') "
                  "optimizer", "Say which family your optimizer belongs to: "
                  "optimizer='sgd' or optimizer='adam'.")
