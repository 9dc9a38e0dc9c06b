"""Run physnet.benchmarks.dysts system by system, appending one JSON line per system to a file
(a rerun skips the systems already there), then print the summary of the whole file.

    python experiments/dysts/run_protocol.py --systems kaptanoglu --noises 0,0.001,0.01 \
        --peer-noises 0,0.01 --no-forecast --out experiments/dysts/kaptanoglu.jsonl
    python experiments/dysts/run_protocol.py --summary experiments/dysts/kaptanoglu.jsonl

Needs the dysts extra: pip install -e ".[dysts]".
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from physnet import benchmarks


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--systems",
        default="default",
        help="kaptanoglu, all, default, or comma-separated dysts names",
    )
    parser.add_argument("--noises", default="0,0.01")
    parser.add_argument("--peer-noises", default=None)
    parser.add_argument("--methods", default="physnet-weak,physnet-strong")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-forecast", action="store_true")
    parser.add_argument("--neural-ode-steps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--summary", type=Path, default=None, help="only print the summary of this JSON-lines file"
    )
    args = parser.parse_args(argv)
    if args.summary:
        systems = [json.loads(line) for line in args.summary.read_text().splitlines() if line]
        print(
            json.dumps(
                {"summary": benchmarks.summarize(systems), "wins": benchmarks.win_counts(systems)},
                indent=1,
            )
        )
        return 0
    names = {
        "kaptanoglu": benchmarks.KAPTANOGLU_SYSTEMS,
        "default": benchmarks.DEFAULT_SUBSET,
    }.get(args.systems)
    if names is None:
        names = benchmarks.dysts_names() if args.systems == "all" else args.systems.split(",")
    done = set()
    if args.out and args.out.exists():
        done = {json.loads(line)["name"] for line in args.out.read_text().splitlines() if line}
    t0 = time.perf_counter()
    warnings.filterwarnings("ignore")
    for name in names:
        if name in done:
            continue
        result = benchmarks.dysts(
            [name],
            noises=_floats(args.noises),
            methods=args.methods.split(","),
            peers_too=not args.no_peers,
            peer_noises=None if args.peer_noises is None else _floats(args.peer_noises),
            forecast=not args.no_forecast,
            neural_ode_steps=args.neural_ode_steps,
        )
        record = {**result["systems"][0], "seconds": result["seconds"]}
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(record) + "\n")
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
