"""``lrsweep transfer`` (carry an LR to the target scale by rules) and ``lrsweep fit`` (fit a
power law across the studies of a store and predict the LR at a target scale)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import LRSweepError, bad_arg


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "transfer", help="carry an optimal LR to a larger batch / width / depth / horizon",
        description="Apply the scaling rules (batch: noise-scale with --b-noise, else sqrt "
                    "(adam) / linear (sgd), each with its error calibrated on real grids; "
                    "width: muP; depth: Depth-muP or CompleteP; horizon: an exponent) and "
                    "print the LR at the target with the chain of rules and an interval. "
                    "Scales are BASE:TARGET.",
        epilog="example: lrsweep transfer --lr 3e-4 --optimizer adam --batch 64:1024 "
               "--width 256:4096 --depth 4:32 --parametrization mup")
    src = p.add_argument_group("the measured optimum (--lr, or a study in a store)")
    src.add_argument("--lr", type=float, help="the optimal LR at the base scale")
    src.add_argument("--low", type=float, help="low end of its interval (optional)")
    src.add_argument("--high", type=float, help="high end of its interval (optional)")
    src.add_argument("--store", help="read the optimum of --study from this SQLite store")
    src.add_argument("--study", help="the study whose optimum to carry")
    p.add_argument("--optimizer", default="adam", help="adam (Adam family) or sgd "
                   "(default adam)")
    for axis, text in (("batch", "batch size"), ("width", "model width"),
                       ("depth", "number of layers / blocks"),
                       ("steps", "training steps (horizon)")):
        p.add_argument(f"--{axis}", metavar="BASE:TARGET",
                       help=f"{text}, e.g. {PAIR_EXAMPLES[axis]}")
    p.add_argument("--parametrization", choices=("mup", "sp"), default="mup",
                   help="width rule: mup (LR unchanged; default) or sp (needs "
                        "--width-exponent)")
    p.add_argument("--batch-rule", choices=("linear", "sqrt", "noise_scale", "surge"),
                   help="default: noise_scale when --b-noise is given (it saturates at the "
                        "critical batch), else sqrt for adam, linear for sgd")
    p.add_argument("--b-noise", type=float,
                   help="the critical batch (gradient noise scale, in samples), e.g. from "
                        "lrsweep.transfer.estimate_noise_scale(task)")
    p.add_argument("--adjust-betas", action="store_true",
                   help="also scale Adam's betas and eps with the batch (Malladi et al.)")
    p.add_argument("--depth-rule", choices=("depth-mup", "completep"), default="depth-mup",
                   help="depth-mup (hidden blocks' lr x (L'/L)^-1/2 under adam; default) or "
                        "completep (x1 under adam); the global lr is unchanged, the blocks' "
                        "lr is printed as 'hidden blocks' (lrsweep.transfer."
                        "depth_param_groups applies it)")
    p.add_argument("--width-exponent", type=float,
                   help="under sp: lr ~ width^E (e.g. from `lrsweep fit`)")
    p.add_argument("--steps-exponent", type=float,
                   help="horizon rule lr ~ steps^E (e.g. -0.5; fit it with `lrsweep fit`)")
    p.set_defaults(func=run_transfer)

    f = subparsers.add_parser(
        "fit", help="fit lr* ~ scale^b across studies and predict the LR at a target scale",
        description="Fit log(lr*) = a + b log(x) by weighted least squares over the optima of "
                    "three or more studies at different scales, with a bootstrap interval, "
                    "and predict the LR at --target.",
        epilog="examples: lrsweep fit runs --x width --target 1024 --plot law.png;  "
               "lrsweep fit runs.db --studies w64,w128,w256 --x width --values 64,128,256 "
               "--target 1024")
    f.add_argument("store", help="the SQLite store holding the studies (or a run's --out "
                   "folder)")
    f.add_argument("--studies", default=None,
                   help="comma-separated study names (default: every study in the store "
                        "whose scale can be read: `lrsweep run --width 64` names its study "
                        "teacher-mlp-width64-...)")
    f.add_argument("--x", default="width", help="the scale axis (default width)")
    f.add_argument("--values", help="the scale of each study, comma-separated, when the "
                   "study does not record it")
    f.add_argument("--target", type=float, help="predict the LR at this scale")
    f.add_argument("--level", type=float, default=0.9, help="interval coverage (default 0.9)")
    f.add_argument("--plot", metavar="PNG", help="write the log-log plot here")
    f.set_defaults(func=run_fit)


#: an example BASE:TARGET per scale flag, one that is a plausible value of that scale
PAIR_EXAMPLES = {"batch": "64:1024", "width": "256:4096", "depth": "12:48",
                 "steps": "2000:20000"}


def parse_pair(flag: str, text: str) -> tuple[float, float]:
    parts = str(text).split(":")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        base, target = float(parts[0]), float(parts[1])
    except ValueError:
        raise bad_arg(flag, text, "BASE:TARGET with two positive numbers",
                      f"Write e.g. {flag} {_example(flag)}.") from None
    if base <= 0 or target <= 0:
        raise bad_arg(flag, text, "positive numbers", f"Write e.g. {flag} {_example(flag)}.")
    return base, target


def _example(flag: str) -> str:
    return PAIR_EXAMPLES.get(flag.lstrip("-"), "64:1024")


def _optimum(args: argparse.Namespace) -> Any:
    if args.lr is not None:
        if args.store or args.study:
            raise bad_arg("--lr", args.lr, "--lr or --store/--study, not both",
                          "Drop one of them.")
        if args.lr <= 0:
            raise bad_arg("--lr", args.lr, "a positive LR", "Pass e.g. --lr 3e-4.")
        if (args.low is None) != (args.high is None):
            raise bad_arg("--low/--high", (args.low, args.high), "both ends of the interval",
                          "Pass --low and --high together, or neither.")
        if args.low is None:
            return args.lr  # no interval: the output says it is unknown
        if not 0 < args.low <= args.lr <= args.high:
            raise bad_arg("--low/--high", (args.low, args.high),
                          f"0 < low <= lr ({args.lr:g}) <= high", "Check the interval.")
        return (args.lr, args.low, args.high)
    if not args.store:
        raise bad_arg("--lr", None, "the LR to carry (or --store and --study)",
                      "Pass e.g. --lr 3e-4.")
    from .common import open_store_arg

    with open_store_arg(args.store, "--store") as store:
        result = store.load(args.study)
    _check_base_batch(args, result)
    return result


def _check_base_batch(args: argparse.Namespace, result: Any) -> None:
    """The study records its batch size: --batch BASE:TARGET must start from it."""
    if args.batch is None:
        return
    base, _ = parse_pair("--batch", args.batch)
    train = (result.protocol or {}).get("train_data")
    recorded = train.get("batch_size") if isinstance(train, dict) else None
    if recorded is not None and float(recorded) != base:
        raise bad_arg("--batch", args.batch, f"BASE = {recorded}, the batch size study "
                      f"{result.study!r} was swept at",
                      f"Pass --batch {recorded}:TARGET.")


def run_transfer(args: argparse.Namespace) -> int:
    from ..transfer import transfer

    base, target, rules = {}, {}, {}
    for axis in ("batch", "width", "depth", "steps"):
        text = getattr(args, axis)
        if text is not None:
            base[axis], target[axis] = parse_pair(f"--{axis}", text)
    if not base:
        raise bad_arg("--batch/--width/--depth/--steps", None, "at least one BASE:TARGET",
                      "Pass e.g. --batch 64:1024.")
    if args.batch_rule:
        rules["batch"] = args.batch_rule
    if args.width_exponent is not None:
        rules["width"] = args.width_exponent
    rules["depth"] = args.depth_rule
    if args.steps_exponent is not None:
        rules["steps"] = args.steps_exponent
    result = transfer(_optimum(args), base, target, rules, optimizer=args.optimizer,
                      parametrization=args.parametrization, b_noise=args.b_noise,
                      adjust_betas=args.adjust_betas)
    print(result)  # once: its last lines are the LR (and the hidden blocks' LR)
    return 0


def run_fit(args: argparse.Namespace) -> int:
    from ..transfer import fit_law
    from ..transfer.scales import scale_of
    from .common import check_image_path, open_store_arg

    if args.plot:
        check_image_path(args.plot, "--plot")

    with open_store_arg(args.store, "STORE") as store:
        every = store.study_names()
        if args.studies is None:
            names = every
        else:
            names = [s.strip() for s in args.studies.split(",") if s.strip()]
            missing = [n for n in names if n not in every]
            if missing:
                raise bad_arg("--studies", args.studies, f"studies of {args.store}",
                              f"{', '.join(missing)} not found; the store holds "
                              f"{', '.join(every) or 'none'}.")
        results = [store.load(n) for n in names]
    values = None
    if args.values:
        try:
            values = [float(v) for v in args.values.split(",") if v.strip()]
        except ValueError:
            raise bad_arg("--values", args.values, "comma-separated numbers",
                          "Write e.g. --values 64,128,256.") from None
        if len(values) != len(names):
            raise bad_arg("--values", args.values, f"{len(names)} values, one per study",
                          "Give one scale per study, in the same order.")
    else:
        unknown = []
        for r in results:
            try:
                scale_of(r, args.x)
            except LRSweepError:
                unknown.append(r.study)
        if unknown and args.studies is None:
            results = [r for r in results if r.study not in unknown]
            print(f"left out (no {args.x} in the study): {', '.join(unknown)}")
        elif unknown:
            raise bad_arg("--studies", args.studies, f"studies whose {args.x} can be read",
                          f"No {args.x} in {', '.join(unknown)}; pass --values with one "
                          f"{args.x} per study.")
    for r, v in zip(results, values or [None] * len(results)):
        scale = v if v is not None else scale_of(r, args.x)[0]
        print(f"study {r.study}: {args.x} {scale:g}")
    law = fit_law(results, x=args.x, values=values, level=args.level)
    print(law)
    if args.target is not None:
        print(f"prediction: {law.predict(args.target)}")
    if args.plot:
        law.plot(args.plot, target=args.target)
        print(f"plot: {args.plot}")
    return 0
