"""The vectorized engine: the (lr, seed) trials of one call run at once as one stacked model.

Every (lr, seed) pair handed to ``run`` trains in one stacked group (chunked to fit memory).
Members of one seed share that seed's initial weights, data order and dropout masks; only the
LR differs. Members of different seeds each keep their own: the seed's initial weights
(``seed_init=True``), its batches (a leading member dimension: the batch index is gathered
per member), its dropout masks and augmentation, drawn from that seed's own copy of the
global generators (``members``). The parameters are stacked into ``[N, ...]`` tensors and
the model runs under ``torch.func.vmap`` + ``functional_call`` (``randomness="same"``; with
one seed, the dropout masks are drawn once per step from the generator seeded by the seed,
exactly as the sequential engine draws them for each of its trials). A forward that draws
other random numbers, or data whose batches differ in shape between seeds, keeps the seeds
in separate groups (the reason is logged). The update is ``optim.BatchedOptimizer``
with the LR as an ``[N]`` tensor; every trial's optimizer is built by the task at that
trial's LR, and hyperparameters that differ between trials are stacked too
(``read_optimizers`` says what cannot be: ``auto`` then runs the trials sequentially). (On
CUDA, where eager dropout is a fused kernel with its own mapping of random numbers,
``NativeDropoutMasks`` makes vmap draw the same masks.) Each result names its group
(``TrialResult.group``) and its ``wall_time`` is its share of the group's wall time.

Divergence is a mask: the rule of ``divergence`` (non-finite loss, or an EMA of the loss
above ``divergence_factor`` x the first loss) is evaluated by ``DivergenceMasks`` in float64
tensors on the device; a diverged trial's loss is excluded from what is backpropagated, its
gradient and LR are zeroed, and its curve stops at the step where it diverged, as in the
sequential engine.

On CUDA the whole step (forward, backward, masked update, divergence bookkeeping) is captured
once in a CUDA graph and replayed with static input buffers; a batch of another shape (the
last partial batch) runs eagerly. ``compile=True`` wraps the step in ``torch.compile`` first.
Trials are chunked to fit memory (out-of-memory halves the chunk); every chunk re-seeds and
replays the same data, so results do not depend on the chunking. A trial whose optimizer
raises when built runs alone on the sequential path (which records it failed); a chunk that
raises while training is rerun trial by trial there, so only the trial that raises fails.

``engine="auto"`` (``lrsweep.engines.local.choose_auto``) picks this engine on CUDA whenever
the model vmaps; on CPU only for tiny models, the one case where stacking is faster there
(measured). On CUDA a group of several seeds with dropout runs eagerly (no CUDA graph: each
seed's generator state is swapped in on the host).

Modules: ``probe`` (whether a task stacks, and what the trial run learnt), ``chunk`` (the
stacked trials and their step), ``members`` (what keeps each seed's member its own trial),
``optim`` (the batched update), ``graph`` (the steps of a chunk: CUDA graph, compile),
``engine`` (groups, chunks, results).
"""


from __future__ import annotations

from .chunk import NativeDropoutMasks, _Chunk, device_step_batches
from .engine import VectorizedEngine, _balanced
from .members import SeedDropout, SeedsDiffer, SeedStreams
from .probe import ProbeResult, probe, unsupported_reason

__all__ = ["NativeDropoutMasks", "ProbeResult", "SeedDropout", "SeedStreams",
           "SeedsDiffer", "VectorizedEngine", "_Chunk", "_balanced", "device_step_batches",
           "probe", "unsupported_reason"]
