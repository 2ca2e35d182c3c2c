"""A background import in its own process: load on the sidecar while queries are timed.

`python -m bench.importer --address A --family F --prefix X --n N` imports
up to N texts through the sidecar; SIGUSR1 asks it to stop sending (the calls
in flight finish). It prints `running` once started, then one JSON line: the
texts answered, the tally over those, wall time, and `exhausted` (true when
it ran out of texts before being asked to stop, i.e. the load did not last
the whole measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from bench.sidecar import import_texts
from bench.workload import FAMILIES, make_texts, verify


async def run(args: argparse.Namespace) -> dict:
    family = FAMILIES[args.family]
    texts = make_texts(args.n, args.prefix)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, stop.set)
    task = asyncio.create_task(
        import_texts(args.address, family, texts, batch=args.batch, callers=args.callers, stop=stop)
    )
    await asyncio.sleep(0.5)
    print("running", flush=True)
    result = await task
    sent = result.sent
    tally = verify(texts[:sent], result.answers[:sent], family)
    return {
        "wall": result.wall,
        "answered": sent,
        "exhausted": not stop.is_set(),
        "tally": tally.to_dict(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.importer")
    p.add_argument("--address", required=True)
    p.add_argument("--family", choices=sorted(FAMILIES), default="titan-v2")
    p.add_argument("--prefix", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--callers", type=int, default=4)
    out = asyncio.run(run(p.parse_args(argv)))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
