"""The HTML report: what it says (the answer, the next steps), that it is self-contained and
escaped, and the ways to write it (API, ``lrsweep report``, ``lrsweep run``)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import lrsweep
from lrsweep.cli import main
from lrsweep.plot.fmt import fmt_lr
from lrsweep.report import build_report, is_report
from lrsweep.report.facts import Recipe, answer
from lrsweep.results.trial import Status, TrialResult
from lrsweep.store import Store

pytest.importorskip("matplotlib")

# a reference the browser would fetch: src/href/xlink:href to a URL, CSS @import or url()
NETWORK = re.compile(r"""(?:\b(?:src|href|xlink:href|srcset|action|poster|data)\s*=\s*["']?\s*"""
                     r"""(?:https?:)?//)|@import|url\(\s*["']?\s*(?:https?:)?//""", re.I)


def curve(lr: float, n: int = 40) -> tuple[float, ...]:
    return tuple(2.3 * math.exp(-s * min(lr, 0.05) * 2) + 0.05 for s in range(n))


def sweep_result(seeds=(0,), lrs=None, study="toy-sweep", protocol=None):
    """Accuracy peaking at lr 3e-3, seed noise that moves the curve sideways, the top LR
    diverged."""
    lrs = list(np.logspace(-5, -1, 9)) if lrs is None else lrs
    trials = []
    for seed in seeds:
        shift = 0.08 * (seed - 1)
        for lr in lrs:
            acc = 0.92 - 0.04 * (math.log10(lr) + 2.5 + shift) ** 2
            trials.append(TrialResult(lr, seed, Status.OK, acc, curve(lr), 40))
        trials.append(TrialResult(1.0, seed, Status.DIVERGED, None, (2.3, 30.0), 2))
    return lrsweep.SweepResult(trials, "max", "accuracy", study=study,
                               protocol=protocol or {"model": "MLP", "steps": 40})


def test_the_answer_comes_first_with_its_interval(tmp_path):
    result = sweep_result()
    opt = result.optimum()
    html = build_report(result)
    answer_at = html.index('id="answer"')
    assert answer_at < html.index('id="metric"') < html.index('id="loss"') \
        < html.index('id="trials"') < html.index('id="protocol"')
    head = html[answer_at:html.index('id="metric"')]
    assert f"lr = {fmt_lr(opt.lr)}" in head
    assert fmt_lr(opt.low) in head and fmt_lr(opt.high) in head
    assert "One seed" in head and "seeds=3" in head  # what it covers, what to do
    assert "one sweep, not refined" in head


def test_the_report_loads_nothing_and_runs_nothing():
    html = build_report(sweep_result(seeds=(0, 1, 2)))
    assert not NETWORK.search(html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert "<iframe" not in html.lower()
    assert html.count("<svg") >= 2  # the figures are inline
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # two figures never share an id
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', html))
    assert refs <= set(ids)  # every reference resolves inside the page


def test_the_network_check_catches_what_it_must():
    for bad in ('<img src="https://x.org/a.png">', "<link href='//cdn.x/a.css'>",
                "<style>@import 'a.css';</style>", "background: url(http://x/y.png)",
                '<use xlink:href="http://x/s.svg#a"/>'):
        assert NETWORK.search(bad), bad
    assert not NETWORK.search('<svg xmlns="http://www.w3.org/2000/svg"><a href="#answer">')


def test_user_strings_are_escaped():
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    result = sweep_result(study=evil, protocol={"model": evil, evil: {"nested": evil}})
    trials = list(result.trials) + [TrialResult(3e-3, 5, Status.FAILED, None, (), 0,
                                                error=f"RuntimeError: {evil}")]
    result = lrsweep.SweepResult(trials, "max", "accuracy", study=evil, protocol=result.protocol)
    html = build_report(result)
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_protocol_fields_are_all_shown():
    proto = {"model": "MLP", "optimizer": "AdamW",
             "optimizer_defaults": {"betas": [0.9, 0.999], "weight_decay": 0.01},
             "train_data": {"batch_size": 32, "n": 1438, "sample_shapes": [[64, 64], [64]]},
             "architecture": "MLP(\n  (0): Linear(64, 128)\n)", "steps": 90}
    html = build_report(sweep_result(protocol=proto))
    section = html[html.index('id="protocol"'):]
    for text in ("optimizer_defaults", "weight_decay", "0.01", "batch_size", "1438",
                 "[[64, 64], [64]]", "Linear(64, 128)", "AdamW"):
        assert text in section, text
    from lrsweep.fingerprint import fingerprint

    assert fingerprint(proto) in section


# --------------------------------------------------------------------------- the facts ----
RECIPE = Recipe(("--task", "teacher-mlp", "--width", "64"), ("--out", "out"), "w64",
                "out/lrsweep.db", "lrsweep.examples.get_task('teacher-mlp', width=64)",
                (1e-5, 0.1, 9), None, {})


def test_next_steps_follow_the_evidence():
    one = sweep_result()
    a = answer(one.optimum(), metric_name="accuracy", recipe=RECIPE, lr_range=(1e-5, 0.1))
    [more] = [s for s in a.next if "--seeds 3" in s.cli]
    assert a.status == "single-sweep"
    # the whole command: the task, its overrides, the same grid, where the study lives
    assert more.cli.startswith("lrsweep run --task teacher-mlp --width 64 --lr-min 1e-05 "
                               "--lr-max 0.1 --num 9 --seeds 3")
    assert more.cli.endswith("--out out --study w64")
    assert "seeds=3" in more.api and "store='out/lrsweep.db'" in more.api \
        and "study='w64'" in more.api and "get_task('teacher-mlp', width=64)" in more.api
    # several seeds, converged search: use it
    many = sweep_result(seeds=(0, 1, 2))
    a = answer(many.optimum(), metric_name="accuracy",
               search={"stopped": "converged", "n_rounds": 4})
    assert a.status == "converged" and a.next[0].text.startswith("Use lr")
    assert "Over 3 seeds" in a.meaning
    # stopped by its rounds: more rounds, from the search's own settings
    rc = dataclasses.replace(RECIPE, search={"lr_min": 1e-5, "lr_max": 0.1, "max_rounds": 6})
    a = answer(many.optimum(), search={"stopped": "max_rounds=6: not converged",
                                       "n_rounds": 6}, recipe=rc)
    assert a.status == "not-converged"
    [go] = [s for s in a.next if "--max-rounds" in s.cli]
    assert "--max-rounds 9" in go.cli and "--max-trials" not in go.cli
    assert go.cli.startswith("lrsweep search --task teacher-mlp --width 64 --lr-min 1e-05")


def test_the_suggestion_answers_the_stop_reason():
    """A spent max_trials asks for more trials (more rounds would rerun the same result);
    the tolerance printed is the search's (2**0.5 by default), never a constant."""
    many = sweep_result(seeds=(0, 1, 2))
    rc = dataclasses.replace(RECIPE, search={"lr_min": 1e-5, "lr_max": 0.1, "max_trials": 40,
                                             "tolerance": 2**0.5})
    a = answer(many.optimum(), recipe=rc, search={
        "stopped": "budget spent (max_trials=40): not converged; raise the budget",
        "n_rounds": 4})
    [go] = [s for s in a.next if s.cli]
    assert "--max-trials 80" in go.cli and "--max-rounds" not in go.cli
    assert "max_trials=80" in go.api and "1.41" in go.text
    # a single sweep suggests a search with the search's own tolerance
    wide = dataclasses.replace(many.optimum(), low=1e-4, high=1e-2)
    a = answer(wide, recipe=RECIPE)
    [s] = [s for s in a.next if "search" in s.cli]
    assert "at most 1.41" in s.text and "1.19" not in s.text
    assert s.cli.startswith("lrsweep search --task teacher-mlp --width 64 --lr-min")


def test_best_at_the_edge_says_widen_the_range():
    lrs = list(np.logspace(-5, -3, 7))  # still rising at the top of the range
    trials = [TrialResult(lr, s, Status.OK, 0.5 + 0.1 * (math.log10(lr) + 5) + 0.001 * s,
                          curve(lr), 40) for lr in lrs for s in (0, 1)]
    result = lrsweep.SweepResult(trials, "max", "accuracy")
    opt = result.optimum()
    assert opt.at_high_edge
    a = answer(opt, lr_range=(lrs[0], lrs[-1]), recipe=RECIPE)
    assert any(f"--lr-max {lrs[-1] * 100:.10g}" in s.cli for s in a.next)
    assert a.warnings and "highest" in a.warnings[0]
    html = build_report(result)
    assert "optimum may lie above the range" in html or "highest one tried" in html


def test_open_ends_and_new_fields_of_the_estimate_show():
    base = sweep_result().optimum()

    @dataclasses.dataclass(frozen=True)
    class Newer(type(base)):  # an Optimum with a field the report has never heard of
        calibration: str = "checked on 200 noisy curves"

    opt = Newer(**{**dataclasses.asdict(base), "low": None, "at_low_edge": True,
                   "fit": base.fit, "band": base.band})
    a = answer(opt, lr_range=(1e-5, 0.1))
    assert a.interval.startswith("open (below the range)")
    assert ("calibration", "checked on 200 noisy curves") in a.extra
    assert "open at the low end" in a.meaning
    html = build_report(sweep_result(), optimum=opt)
    assert "checked on 200 noisy curves" in html


def test_nothing_finished_says_so():
    trials = [TrialResult(lr, 0, Status.DIVERGED, None, (2.0, 50.0), 2)
              for lr in (0.1, 1.0, 10.0)]
    result = lrsweep.SweepResult(trials, "max", "accuracy", study="all-diverged")
    html = build_report(result)
    assert "no optimum" in html and "Every LR diverged" in html
    assert "lrsweep.log_grid(0.0001, 0.01, " in html  # below the first divergence


# ----------------------------------------------------------------- search and the API ----
def toy_objective(center: float = -2.5):
    def objective(trial):
        for step in range(25):
            trial.report(step, 2.0 * math.exp(-step * min(trial.lr, 0.1)) + 0.05)
        r = np.random.default_rng(trial.seed * 7919 + int(1e6 * trial.lr) % 7919)
        return 0.9 - 0.05 * (math.log10(trial.lr) - center) ** 2 + 0.002 * r.standard_normal()

    return objective


def test_search_report_shows_its_rounds(tmp_path):
    found = lrsweep.search(toy_objective(), (1e-6, 1.0), direction="max", seeds=(0, 1),
                           engine="sequential", max_rounds=3)
    path = found.report(tmp_path / "search.html")
    html = path.read_text()
    section = html[html.index('id="rounds"'):html.index('id="trials"')]
    assert section.split("<tbody>")[1].count("<tr>") == len(found.rounds)  # a row per round
    assert "coarse grid" in section and "<svg" in section
    assert fmt_lr(found.optimum().lr) in html
    assert is_report(path)


def test_api_report_never_replaces_a_foreign_file(tmp_path):
    result = sweep_result()
    other = tmp_path / "notes.html"
    other.write_text("my own notes")
    with pytest.raises(lrsweep.LRSweepError, match="exists"):
        result.report(other)
    assert other.read_text() == "my own notes"
    result.report(other, overwrite=True)
    assert is_report(other)
    result.report(other)  # an earlier report is derived data: replaced without asking
    db = tmp_path / "s.db"
    Store(db).close()
    with pytest.raises(lrsweep.LRSweepError, match="SQLite"):
        result.report(db, overwrite=True)


# ------------------------------------------------------------------------------ CLI ----
class ScaledTask:
    """The minimum a store needs of a task: a name and a protocol."""

    def __init__(self, width: int) -> None:
        self.name = f"toy-width{width}"
        self.direction, self.metric_name = "max", "accuracy"
        self._width = width

    def protocol(self):
        return {"model": "Toy", "width": self._width, "metric": "accuracy",
                "direction": "max"}


@pytest.fixture(scope="module")
def law_store(tmp_path_factory) -> Path:
    """Three studies of one task at widths 64, 128, 256, the optimum ~ 1/width."""
    db = tmp_path_factory.mktemp("law") / "lrsweep.db"
    store = Store(db)
    for width in (64, 128, 256):
        study = store.open_study(ScaledTask(width))
        center = math.log10(0.2 / width)
        for seed in (0, 1):
            for lr in np.logspace(-5, -1, 13):
                acc = 0.9 - 0.05 * (math.log10(lr) - center - 0.03 * (seed - 0.5)) ** 2
                study.record(TrialResult(lr, seed, Status.OK, acc, curve(lr), 40))
    store.close()
    return db


def test_cli_report_of_a_store_with_a_law(law_store, tmp_path, capsys):
    names = Store(law_store, create=False).study_names()
    out = tmp_path / "w128.html"
    rc = main(["report", str(law_store), "--study", names[1], "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    html = out.read_text()
    law = html[html.index('id="law"'):]
    assert "exponent of width" in law and "<svg" in law
    m = re.search(r"exponent of width: (-?[0-9.]+)", law)
    assert m and float(m.group(1)) == pytest.approx(-1.0, abs=0.1)
    assert Store(law_store, create=False).get_study(names[1]).fingerprint in html


def test_cli_report_refuses_a_foreign_file_and_names_the_flag(law_store, tmp_path, capsys):
    names = Store(law_store, create=False).study_names()
    out = tmp_path / "keep.html"
    out.write_text("not a report")
    rc = main(["report", str(law_store), "--study", names[0], "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "--force" in err and "Traceback" not in err
    assert out.read_text() == "not a report"
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "SOURCE" in capsys.readouterr().err


def test_lrsweep_run_writes_a_report_next_to_the_png(tmp_path, capsys):
    rc = main(["run", "--task", "teacher-mlp", "--lr-min", "1e-3", "--lr-max", "1e-1",
               "--steps", "4", "--num", "4", "--quiet", "--engine", "sequential",
               "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    [png] = tmp_path.glob("*/sweep.png")  # OUT/STUDY/: each study's files apart
    for path in (png.parent / "report.html", tmp_path / "report.html"):  # and the latest
        assert f"wrote {path}" in out
        html = path.read_text()
        assert not NETWORK.search(html)
        assert json.loads((png.parent / "sweep.json").read_text())["study"] in html
    # `lrsweep report OUT` rebuilds the study's report in place (an earlier report is
    # replaced without --force)
    before = (png.parent / "report.html").stat().st_mtime_ns
    assert main(["report", str(tmp_path)]) == 0
    assert f"wrote {png.parent / 'report.html'}" in capsys.readouterr().out
    assert (png.parent / "report.html").stat().st_mtime_ns >= before
    assert is_report(png.parent / "report.html")


def test_report_of_a_search_folder_shows_the_rounds(tmp_path, capsys):
    rc = main(["search", "--task", "teacher-mlp", "--lr-min", "1e-3", "--lr-max", "1",
               "--steps", "3", "--points", "3", "--max-rounds", "2", "--refine-points", "2",
               "--quiet", "--engine", "sequential", "--out", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    [folder] = [p.parent for p in tmp_path.glob("*/search.json")]
    assert 'id="rounds"' in (folder / "report.html").read_text()
    (folder / "report.html").unlink()
    assert main(["report", str(tmp_path)]) == 0  # rebuilt from the store and search.json
    assert 'id="rounds"' in (folder / "report.html").read_text()


def test_one_seed_interval_claims_no_confidence_level():
    html = build_report(sweep_result())
    head = html[html.index('id="answer"'):html.index('id="metric"')]
    assert "interval, one seed" in head and "no confidence level" in head
    assert "90% interval" not in head
    three = build_report(sweep_result(seeds=(0, 1, 2)))
    assert "90% interval" in three[three.index('id="answer"'):three.index('id="metric"')]


def test_a_noise_limited_search_asks_for_more_seeds_with_the_width_they_buy():
    opt = sweep_result(seeds=(0, 1, 2)).optimum()
    assert opt.basis == "seeds"
    limited = dataclasses.replace(opt, converged=False, stopped="noise-limited: ...")
    rc = dataclasses.replace(RECIPE, search={"lr_min": 1e-5, "lr_max": 0.1, "max_seeds": 5,
                                             "max_trials": 40})
    a = answer(limited, search={"stopped": limited.stopped, "n_rounds": 3}, recipe=rc)
    [step] = [s for s in a.next if "--max-seeds 7" in s.cli]
    assert "--max-trials 80" in step.cli
    width = opt.with_seeds(7)
    assert math.isfinite(width) and width < opt.ratio
    assert f"a factor of {width:.2f}" in step.text
    assert a.status == "not-converged" and "noise-limited" in a.status_detail
    assert a.status_text == "noise-limited, not converged"


def test_rounds_caption_is_true_to_the_figure():
    from lrsweep.report.page import rounds_caption

    rows = [{"ratio": r} for r in (3.59, 3.45, 44.36, 21.4, 4.55)]
    text = rounds_caption(rows)
    assert "narrows from round to round" not in text and "narrowed from round" not in text
    assert "x3.59 → x3.45 → x44.36" in text
    assert "narrowed from round to round" in rounds_caption([{"ratio": 4.0},
                                                             {"ratio": 2.0}])


def test_the_reports_search_defaults_are_the_codes():
    import inspect

    from lrsweep.report.next_steps import SEARCH_DEFAULTS

    sig = inspect.signature(lrsweep.search).parameters
    for name, value in SEARCH_DEFAULTS.items():
        assert sig[name].default == value, name


def test_stop_kind_reads_the_typed_reason():
    from lrsweep.report.next_steps import stop_kind
    from lrsweep.search import StopReason

    spent = "budget spent (max_trials=48): not converged; raise the budget"
    assert stop_kind(spent, StopReason.BUDGET) == "max_trials"
    assert stop_kind("budget spent (max_steps=900): ...", StopReason.BUDGET) == "max_steps"
    assert stop_kind("budget spent (max_trials=8, max_steps=900): ...", "budget") == "budget"
    assert stop_kind("converged, flat top: any LR in ...", StopReason.FLAT) == "flat"
    assert stop_kind("converged: interval x1.3 <= x1.41", StopReason.TIGHT) == "converged"
    assert stop_kind("max_rounds=6: not converged", StopReason.MAX_ROUNDS) == "max_rounds"
    assert stop_kind("noise-limited: ...", "noise-limited") == "noise-limited"
    assert stop_kind("max_rounds=6: not converged (next: refining)") == "max_rounds"


def test_the_close_up_draws_only_the_trials_inside_its_window(monkeypatch):
    """Issue 21: a trial outside the close-up's x-range is not drawn (a renderer would clip
    it onto the left edge, where it reads as a measurement there)."""
    from lrsweep.plot import sweep_plot_data
    from lrsweep.report import figures

    data = sweep_plot_data(sweep_result(seeds=(0, 1), lrs=list(np.logspace(-5, -0.5, 25))))
    window = figures.zoom_window(data)
    assert window is not None
    (x0, x1), _ = window
    assert any(not x0 <= p.lr <= x1 for p in data.points)  # some lie outside
    drawn = []
    real = figures.draw_metric

    def spy(ax, d, **kw):
        drawn.append(d)
        return real(ax, d, **kw)

    monkeypatch.setattr(figures, "draw_metric", spy)
    assert figures.zoom_svg(data) is not None
    (d,) = drawn
    assert d.points and all(x0 <= p.lr <= x1 for p in d.points)
    assert len(d.points) == sum(x0 <= p.lr <= x1 for p in data.points)


def test_the_law_figure_has_the_size_of_the_other_figures():
    """Issue 21: the across-scales figure is drawn at the report figures' size, so its text
    is not larger on the page than theirs."""
    from lrsweep.plot import sweep_plot_data
    from lrsweep.report import figures
    from lrsweep.transfer import fit_law

    law = fit_law({64: (1e-2, 8e-3, 1.2e-2), 128: (5e-3, 4e-3, 6e-3),
                   256: (2.6e-3, 2e-3, 3e-3)}, x="width")
    view = re.compile(r'viewBox="0 0 ([0-9.]+) ')
    law_width = float(view.search(figures.law_svg(law, 1024)).group(1))
    metric = figures.metric_svg(sweep_plot_data(sweep_result()))
    assert law_width == pytest.approx(float(view.search(metric).group(1)))
    legend = re.findall(r"font-size: ([0-9.]+)px", figures.law_svg(law))
    assert legend and max(map(float, legend)) <= 12  # matplotlib's 10 pt text at most
