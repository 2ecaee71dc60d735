"""Plain-text tables, the one way every summary, CLI listing and transfer plan prints one."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(rows: Sequence[Sequence[str]], *, align: str | None = None,
                 rule: bool = True) -> str:
    """Columns padded to their widest cell, two spaces apart; ``rows[0]`` is the header.

    ``align`` gives one letter per column, ``"l"`` (left) or ``"r"`` (right); by default
    the first column is left-aligned and the others right-aligned. ``rule`` puts a line of
    dashes under the header. Trailing spaces are dropped.

    >>> print(format_table([("lr", "loss"), ("1e-3", "0.52"), ("1e-2", "0.4")]))
    lr    loss
    ----------
    1e-3  0.52
    1e-2   0.4
    """
    if not rows:
        return ""
    n = len(rows[0])
    if any(len(r) != n for r in rows):
        raise ValueError(f"format_table: every row needs {n} cells, as the header has")
    align = align or "l" + "r" * (n - 1)
    if len(align) != n or set(align) - {"l", "r"}:
        raise ValueError(f"format_table: align={align!r} needs one of 'l'/'r' per column ({n})")
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    lines = ["  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                       for c, w, a in zip(r, widths, align)).rstrip() for r in rows]
    if rule:
        lines.insert(1, "-" * max(len(s) for s in lines))
    return "\n".join(lines)


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` and the noun, plural unless ``n`` is 1 (``nouns``: an irregular plural).

    >>> plural(1, "LR"), plural(3, "seed"), plural(0, "trial")
    ('1 LR', '3 seeds', '0 trials')
    """
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"
