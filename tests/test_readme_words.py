"""The README says what the code does, in words a new user understands."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import lrsweep

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_no_insider_words():
    assert "seed document" not in README.lower()
    assert "classic lr_finder recipe" in README


def test_the_default_search_range_is_the_codes():
    lo, hi = inspect.signature(lrsweep.search).parameters["lr_range"].default
    shown = re.findall(r"by default lr_range=\(([^)]*)\)", README)
    assert shown, "the README states search's default range"
    for text in shown:
        a, b = (float(v) for v in text.split(","))
        assert (a, b) == (lo, hi)


def test_seeds_is_a_count_in_the_readme():
    assert "seeds=3" in README and "seeds 0, 1, 2" in README
