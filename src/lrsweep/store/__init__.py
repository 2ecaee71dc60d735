"""The SQLite store: studies that survive a crash, resume without recomputing, and are read
while a sweep writes them.

- ``sqlite``: opening a file safely (a foreign, corrupted or newer file is refused before
  anything is written), WAL and the busy timeout, write transactions, the schema and its
  migrations, the integrity check;
- ``studies``: ``Store`` and ``Study``: studies keyed by their protocol's fingerprint, and
  their trials, keyed by (study, lr, seed);
- ``lease``: one runner per trial across processes (claims, heartbeats, holders, release),
  the only module that reads or writes a trial's lease.

Standard library only (no torch, no matplotlib): reading a store is cheap.
"""

from __future__ import annotations

from ..fingerprint import fingerprint
from ..results.trial import TrialResult, TrialSpec
from .studies import Store, Study, StudyInfo, default_study_name, open_study, task_protocol

__all__ = [
    "Store",
    "Study",
    "StudyInfo",
    "TrialResult",
    "TrialSpec",
    "default_study_name",
    "fingerprint",
    "open_study",
    "task_protocol",
]
