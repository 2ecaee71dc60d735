"""How one trial trains: the loop (``loop``: the one training step, accumulation, clipping),
divergence (``divergence``), the LR schedule after warmup (``schedule``), per-trial random
streams (``rng``), torch's thread count (``threads``) and the progress hook the engines
report steps through (``progress``). Below the engines: nothing here knows of an engine,
a store or a sweep."""
