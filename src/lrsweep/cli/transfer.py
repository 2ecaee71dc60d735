"""``lrsweep transfer`` (carry an LR to the target scale by rules) and ``lrsweep fit`` (fit a
power law across the studies of a store and predict the LR at a target scale)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import bad_arg


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "transfer", help="carry an optimal LR to a larger batch / width / depth / horizon",
        description="Apply the scaling rules (batch: linear / sqrt / noise-scale; width: muP; "
                    "depth: Depth-muP or CompleteP; horizon: an exponent) and print the LR at "
                    "the target with the chain of rules. Scales are BASE:TARGET.",
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
        p.add_argument(f"--{axis}", metavar="BASE:TARGET", help=f"{text}, e.g. 64:1024")
    p.add_argument("--parametrization", choices=("mup", "sp"), default="mup",
                   help="width rule: mup (LR unchanged; default) or sp (needs "
                        "--width-exponent)")
    p.add_argument("--batch-rule", choices=("linear", "sqrt", "noise_scale", "surge"),
                   help="default: sqrt for adam, linear for sgd")
    p.add_argument("--b-noise", type=float, help="gradient noise scale for noise_scale/surge")
    p.add_argument("--adjust-betas", action="store_true",
                   help="also scale Adam's betas and eps with the batch (Malladi et al.)")
    p.add_argument("--depth-rule", choices=("depth-mup", "completep"), default="depth-mup")
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
        epilog="example: lrsweep fit runs.db --studies w64,w128,w256 --x width "
               "--values 64,128,256 --target 1024 --plot law.png")
    f.add_argument("store", help="the SQLite store holding the studies")
    f.add_argument("--studies", required=True, help="comma-separated study names")
    f.add_argument("--x", default="width", help="the scale axis (default width)")
    f.add_argument("--values", help="the scale of each study, comma-separated, when the "
                   "study does not record it")
    f.add_argument("--target", type=float, help="predict the LR at this scale")
    f.add_argument("--level", type=float, default=0.9, help="interval coverage (default 0.9)")
    f.add_argument("--plot", metavar="PNG", help="write the log-log plot here")
    f.set_defaults(func=run_fit)


def parse_pair(flag: str, text: str) -> tuple[float, float]:
    parts = str(text).split(":")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        base, target = float(parts[0]), float(parts[1])
    except ValueError:
        raise bad_arg(flag, text, "BASE:TARGET with two positive numbers",
                      f"Write e.g. {flag} 64:1024.") from None
    if base <= 0 or target <= 0:
        raise bad_arg(flag, text, "positive numbers", f"Write e.g. {flag} 64:1024.")
    return base, target


def _optimum(args: argparse.Namespace) -> Any:
    if args.lr is not None:
        if args.store or args.study:
            raise bad_arg("--lr", args.lr, "--lr or --store/--study, not both",
                          "Drop one of them.")
        if args.lr <= 0:
            raise bad_arg("--lr", args.lr, "a positive LR", "Pass e.g. --lr 3e-4.")
        low = args.low if args.low is not None else args.lr
        high = args.high if args.high is not None else args.lr
        return (args.lr, low, high)
    if not args.store:
        raise bad_arg("--lr", None, "the LR to carry (or --store and --study)",
                      "Pass e.g. --lr 3e-4.")
    from .common import open_store_arg

    return open_store_arg(args.store, "--store").load(args.study)


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
    print(result)
    print(f"lr = {result.lr:.6g}")
    return 0


def run_fit(args: argparse.Namespace) -> int:
    from ..transfer import fit_law
    from .common import open_store_arg

    store = open_store_arg(args.store, "STORE")
    names = [s.strip() for s in args.studies.split(",") if s.strip()]
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
    results = [store.load(n) for n in names]
    law = fit_law(results, x=args.x, values=values, level=args.level)
    print(law)
    if args.target is not None:
        print(f"prediction: {law.predict(args.target)}")
    if args.plot:
        law.plot(args.plot, target=args.target)
        print(f"plot: {args.plot}")
    return 0
