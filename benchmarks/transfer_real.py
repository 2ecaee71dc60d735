"""Batch transfer on real LR x batch grids: every rule against "keep the LR", up and down, by
ratio, with the coverage of the transferred 90% interval (issue 25).

Grids: the Step Law MoE grid (16 configurations of real LLM pretraining runs x 5 batch sizes,
one seed; ``data/steplaw-moe/``) and the built-in tasks' grids (``lr_batch_grids.py``: fixed
epochs, 3 seeds, validation loss). The optimum of each (configuration, batch) is lrsweep's
own estimate (``SweepResult.optimum()``); cells whose interval is open (the optimum at the
edge of the LRs tried) are left out.

Changes: "from opt." carries the LR from the loss-optimal batch of each configuration to
every other batch (the protocol of the issue); "all pairs" from every batch to every other.
Error = |log2(transferred / measured optimum)|, in octaves.

B_noise: on the MoE grid the loss-optimal batch (no model to measure a gradient on); on the
built-in tasks ``estimate_noise_scale`` at the smallest batch, half-way through a run at its
optimum (16 big batches), printed beside the loss-optimal batch and the B_noise that fits the
measured optima best (the check of item 1).

``--calibrate`` refits ``RULE_ERROR`` (``lrsweep.transfer.batch``): for each (rule, family),
the factor c (sd of the error in log2 LR per octave of batch change) at which the 90%
interval holds 90% of the all-pairs changes, each grid weighted equally; and, so that the
coverage is not judged on what it was tuned on, the coverage of each configuration's changes
when c is fitted without that configuration (leave-one-configuration-out; a built-in grid is
one configuration).

    python benchmarks/transfer_real.py             # tables with the library's constants
    python benchmarks/transfer_real.py --calibrate
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections import defaultdict

import numpy as np
import torch
from real_grids import BUILTIN_BATCH, GRID_DIR, builtin_cells, by_config, moe_cells

from lrsweep.transfer import batch_law, batch_rule, estimate_noise_scale
from lrsweep.transfer._inputs import as_point
from lrsweep.transfer.batch import BATCH_RULES, RULE_ERROR

Z90 = 1.6448536269514722
NOISE_CACHE = GRID_DIR / "noise-scales.json"


def measure_noise_scales(names, log=print) -> dict:
    """``estimate_noise_scale`` on each built-in grid's task at its smallest batch, half-way
    through a run at that batch's optimum (cached)."""
    from lr_batch_grids import GRIDS, _optimizer

    from lrsweep.examples import get_task

    cache = json.loads(NOISE_CACHE.read_text()) if NOISE_CACHE.exists() else {}
    for name in names:
        if name in cache:
            continue
        spec = GRIDS[name]
        cells = builtin_cells(name)
        small = cells[0]
        over = dict(spec["over"])
        if "optimizer" in over:
            over["optimizer"] = _optimizer(over["optimizer"])
        over[spec["axis"]] = int(small.scale)
        task = get_task(spec["task"], **over)
        t0 = time.perf_counter()
        ns = estimate_noise_scale(task, lr=small.optimum().lr, train_steps=task.steps // 2,
                                  steps=16)
        cache[name] = {"b_noise": ns.b_noise, "small": ns.small, "big": ns.big,
                       "seconds": round(time.perf_counter() - t0, 1)}
        log(f"  {name}: {ns}")
        NOISE_CACHE.write_text(json.dumps(cache, indent=1))
    return cache


def grids(names) -> dict[str, list]:
    out = {"moe": moe_cells()}
    for n in names:
        try:
            out[n] = builtin_cells(n)
        except SystemExit as e:
            print(f"  (skipped: {e})")
    return out


def changes(cells, b_noise_of, grid):
    """Every (base -> target) change between the closed optima of each configuration."""
    rows = []
    for cfg, cs in by_config(cells).items():
        loss = [c.best_loss() for c in cs]
        best = cs[int(np.argmin(loss))].scale
        opts = {}
        for c in cs:
            o = c.optimum()
            if o.low is not None and o.high is not None:
                opts[c.scale] = o
        bn = b_noise_of(cfg, best)
        for b0, o0 in opts.items():
            for b1, o1 in opts.items():
                if b0 == b1:
                    continue
                rows.append(dict(grid=grid, cfg=cfg, b0=b0, b1=b1, base=as_point(o0, warn=False),
                                 measured=o1.lr, from_opt=b0 == best, b_noise=bn,
                                 family=cs[0].family, lk=math.log2(b1 / b0)))
    return rows


RULES = ("keep", "sqrt", "linear", "noise_scale", "surge", "default")


def predict(row, rule, c=None):
    """(log2 error, inside the interval) of ``rule`` on one change; ``c`` overrides the
    rule's error constant (calibration)."""
    b0, b1, fam, bn = row["b0"], row["b1"], row["family"], row["b_noise"]
    p = row["base"]
    if rule == "keep":
        f, name, sd = 1.0, "keep", None
    else:
        r = None if rule == "default" else rule
        step = batch_rule(b0, b1, r, optimizer=fam,
                          b_noise=bn if rule in ("default", "noise_scale", "surge") else None)
        f, name = step.factor, step.rule
        sd = (c if c is not None else RULE_ERROR[(name, fam)]) * abs(row["lk"])
    lr = p.lr * f
    err = math.log2(lr / row["measured"])
    if sd is None:
        return err, p.low * f <= row["measured"] <= p.high * f, name
    half = Z90 * sd * math.log(2)
    lo = lr * math.exp(-math.hypot(math.log(p.lr / p.low), half))
    hi = lr * math.exp(math.hypot(math.log(p.high / p.lr), half))
    return err, lo <= row["measured"] <= hi, name


def med(xs):
    return float(np.median(xs)) if xs else float("nan")


def table(rows, title):
    print(f"\n{title}")
    head = ("grid", "changes", "rule", "median", "up", "down", "x4+", "x2", "x4", "x8+",
            "90% interval holds")
    out = [head]
    for grid in dict.fromkeys(r["grid"] for r in rows):
        sub = [r for r in rows if r["grid"] == grid]
        for rule in RULES:
            if rule in ("noise_scale", "surge", "default") and sub[0]["b_noise"] is None:
                continue
            res = [(r, *predict(r, rule)) for r in sub]
            e = [abs(x[1]) for x in res]

            def pick(cond, res=res):
                return f"{med([abs(x[1]) for x in res if cond(x[0])]):.2f}"

            name = rule if rule != "default" else f"default ({res[0][3]})"
            cov = sum(x[2] for x in res) / len(res)
            out.append((grid, str(len(res)), name, f"{med(e):.2f}", pick(lambda r: r["lk"] > 0),
                        pick(lambda r: r["lk"] < 0), pick(lambda r: abs(r["lk"]) >= 2 - 1e-9),
                        pick(lambda r: abs(abs(r["lk"]) - 1) < 1e-9),
                        pick(lambda r: abs(abs(r["lk"]) - 2) < 1e-9),
                        pick(lambda r: abs(r["lk"]) >= 3 - 1e-9),
                        "-" if rule == "keep" else f"{cov:.0%}"))
    w = [max(len(r[i]) for r in out) for i in range(len(head))]
    for i, r in enumerate(out):
        print("  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip())
        if i == 0:
            print("-" * (sum(w) + 2 * (len(w) - 1)))


# ---------------------------------------------------------------------- calibration ---
def coverage(rows, rule, c):
    """Coverage with each grid weighted equally."""
    by = defaultdict(list)
    for r in rows:
        by[r["grid"]].append(predict(r, rule, c)[1])
    return float(np.mean([np.mean(v) for v in by.values()]))


def fit_c(rows, rule, target=0.9):
    lo, hi = 0.0, 3.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if coverage(rows, rule, mid) < target else (lo, mid)
    return hi


def calibrate(all_rows):
    print("\nRULE_ERROR refitted (sd in log2 LR per octave of batch change, all pairs, grids "
          "weighted equally), and its coverage judged leaving each configuration out:")
    head = ("rule", "family", "grids", "c (all)", "c now", "LOCO coverage", "min by grid")
    out = [head]
    for rule in BATCH_RULES:
        for fam in ("adam", "sgd"):
            rows = [r for r in all_rows if r["family"] == fam
                    and (r["b_noise"] is not None or rule in ("sqrt", "linear"))]
            if not rows:
                continue
            c_all = fit_c(rows, rule)
            hits = defaultdict(list)
            cfgs = sorted({(r["grid"], r["cfg"]) for r in rows})
            for g, cfg in cfgs:
                train = [r for r in rows if (r["grid"], r["cfg"]) != (g, cfg)]
                test = [r for r in rows if (r["grid"], r["cfg"]) == (g, cfg)]
                if not train or not {r["grid"] for r in train}:
                    continue
                c = fit_c(train, rule)
                hits[g] += [predict(r, rule, c)[1] for r in test]
            per = {g: float(np.mean(v)) for g, v in hits.items()}
            loco = float(np.mean(list(per.values()))) if per else float("nan")
            worst = min(per.items(), key=lambda kv: kv[1]) if per else ("-", float("nan"))
            out.append((rule, fam, ",".join(sorted({r["grid"] for r in rows})),
                        f"{c_all:.3f}", f"{RULE_ERROR.get((rule, fam), float('nan')):.3f}",
                        f"{loco:.0%}", f"{worst[0]} {worst[1]:.0%}"))
    w = [max(len(r[i]) for r in out) for i in range(len(head))]
    for i, r in enumerate(out):
        print("  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip())
        if i == 0:
            print("-" * (sum(w) + 2 * (len(w) - 1)))


# ------------------------------------------------------------------------ batch law ---
def law_rows(gs):
    """batch_law from the two smallest batches of each configuration, predicting the others;
    and from all but the largest, predicting the largest."""
    out = []
    for grid, cells in gs.items():
        for _cfg, cs in by_config(cells).items():
            opts = [(c.scale, c.optimum()) for c in cs]
            opts = [(b, o) for b, o in opts if o.low is not None and o.high is not None]
            if len(opts) < 3:
                continue
            for how, train, test in (("two smallest", opts[:2], opts[2:]),
                                     ("all but largest", opts[:-1], opts[-1:])):
                law = batch_law(dict(train))
                for b, o in test:
                    p = law.predict(b)
                    out.append(dict(grid=grid, how=how, err=abs(math.log2(p.lr / o.lr)),
                                    inside=p.low <= o.lr <= p.high, ratio=b / train[-1][0]))
    print("\nbatch_law(sweeps at the smallest batches) predicting the others:")
    print("grid          fitted on         predictions  median err  90% interval holds")
    for grid in dict.fromkeys(r["grid"] for r in out):
        for how in ("two smallest", "all but largest"):
            s = [r for r in out if r["grid"] == grid and r["how"] == how]
            if s:
                print(f"{grid:13s} {how:17s} {len(s):11d}  {med([r['err'] for r in s]):10.2f}  "
                      f"{np.mean([r['inside'] for r in s]):.0%}")


def scatter_about_batch_power_law(gs):
    """Pooled sd (ln LR) of per-batch optima about a power law in batch, per configuration:
    what BATCH_LAW_PRIOR holds."""
    res, dof = 0.0, 0
    per = {}
    for grid, cells in gs.items():
        rr, dd = 0.0, 0
        for _cfg, cs in by_config(cells).items():
            pts = [(c.scale, c.optimum()) for c in cs]
            pts = [(b, o.lr) for b, o in pts if o.low is not None and o.high is not None]
            if len(pts) < 3:
                continue
            x = np.log([b for b, _ in pts])
            y = np.log([v for _, v in pts])
            coef = np.polyfit(x, y, 1)
            rr += float(np.sum((y - np.polyval(coef, x)) ** 2))
            dd += len(pts) - 2
        per[grid] = math.sqrt(rr / dd) if dd else float("nan")
        res += rr
        dof += dd
    print("\nscatter of per-batch optima about a power law in batch (ln LR): " +
          ", ".join(f"{g} {v:.3f}" for g, v in per.items()) +
          f"; grids weighted equally {np.mean(list(per.values())):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", default=",".join(BUILTIN_BATCH),
                    help="built-in grids (default all four)")
    ap.add_argument("--calibrate", action="store_true", help="refit RULE_ERROR (see above)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lrsweep").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    names = [n for n in args.grids.split(",") if n]
    gs = grids(names)
    names = [n for n in names if n in gs]
    noise = measure_noise_scales(names)
    rows = []
    for grid, cells in gs.items():
        if grid == "moe":
            rows += changes(cells, lambda cfg, best: float(best), grid)
        else:
            rows += changes(cells, lambda cfg, best, g=grid: noise[g]["b_noise"], grid)
    print("B_noise per built-in grid: estimate_noise_scale (at the smallest batch, mid-run) | "
          "loss-optimal batch | the B_noise whose noise-scale rule fits the optima best")
    for g in names:
        cs = gs[g]
        best = cs[int(np.argmin([c.best_loss() for c in cs]))].scale
        fam = cs[0].family
        opts = [(c.scale, c.optimum()) for c in cs]
        opts = [(b, o.lr) for b, o in opts if o.low is not None and o.high is not None]
        cand = np.exp(np.linspace(math.log(opts[0][0] / 4), math.log(opts[-1][0] * 64), 200))

        def misfit(bn, opts=opts, fam=fam):
            pred = [math.log(batch_rule(opts[0][0], b, "noise_scale", optimizer=fam,
                                        b_noise=bn).factor) for b, _ in opts]
            y = [math.log(v / opts[0][1]) for _, v in opts]
            d = np.array(y) - np.array(pred)
            return float(np.sum((d - d.mean()) ** 2))

        fit = float(cand[int(np.argmin([misfit(b) for b in cand]))])
        print(f"  {g:13s} {noise[g]['b_noise']:10.0f} | {best:5.0f} | {fit:8.0f}"
              f"{' (largest tried: no saturation seen)' if fit >= cand[-2] else ''}")
    table([r for r in rows if r["from_opt"]], "from the loss-optimal batch to every other "
          "(octaves; median |log2 err|; 'default' = what transfer() does with B_noise known)")
    table(rows, "all pairs")
    unknown = [dict(r, b_noise=None) for r in rows]
    print("\ndefault with B_noise unknown (sqrt for Adam, linear for SGD):")
    for proto, sub in (("from opt.", [r for r in unknown if r["from_opt"]]),
                       ("all pairs", unknown)):
        for grid in dict.fromkeys(r["grid"] for r in sub):
            s = [r for r in sub if r["grid"] == grid]
            res = [(r, *predict(r, "default")) for r in s]
            e = [abs(x[1]) for x in res]
            up = [abs(x[1]) for x in res if x[0]["lk"] > 0]
            dn = [abs(x[1]) for x in res if x[0]["lk"] < 0]
            big = [abs(x[1]) for x in res if abs(x[0]["lk"]) >= 2 - 1e-9]
            print(f"  {proto:9s} {grid:13s} {res[0][3]:6s} n={len(e):3d} median {med(e):.2f} "
                  f"up {med(up):.2f} down {med(dn):.2f} x4+ {med(big):.2f} holds "
                  f"{np.mean([x[2] for x in res]):.0%}")
    if args.calibrate:
        calibrate(rows)
    scatter_about_batch_power_law(gs)
    law_rows(gs)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
