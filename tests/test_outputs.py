"""Output files are written atomically and get the mode a plain ``open()`` would give them
(a report or CSV is shared like any other file, not left readable by its owner only)."""

from __future__ import annotations

import os
import stat

from lrsweep.outputs import write_text


def test_written_file_has_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        p = write_text(tmp_path / "report.html", "<p>x</p>")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert p.read_text() == "<p>x</p>"
    assert stat.S_IMODE(p.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o644
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []
