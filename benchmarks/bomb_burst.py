"""Memory under a burst of decompression bombs: N concurrent /edit (or /faces) uploads of a PNG that
declares side x side pixels of zeros (default 32 x 6300x6300 RGB, 115,814 bytes each, the
case of issue 12), against a live uvicorn on 127.0.0.1. Prints the statuses, the server's
RSS before, at its peak (sampled every 20 ms) and 2 s after the burst, and the peak growth
against the configured decode budget.

    python benchmarks/bomb_burst.py                                 # models/<default>, 1 GiB budget
    python benchmarks/bomb_burst.py --models-dir /tmp/m --model tiny --json /tmp/burst.json
    python benchmarks/bomb_burst.py --route faces                   # POST /faces instead of /edit

Bounded: one burst of --count requests, each with the server's request deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import uvicorn_server  # noqa: E402  (benchmarks/ is not a package)
from load_tools import RssSampler, mib, read_status, zeros_png  # noqa: E402

from service.settings import GiB  # noqa: E402


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(
        INTROVAC_DECODE_BUDGET_BYTES=str(args.budget_bytes),
        INTROVAC_MAX_PIXELS=str(args.max_pixels),
        INTROVAC_PROVIDERS="CPUExecutionProvider",
        PYTHONPATH=str(REPO),
    )
    if args.models_dir:
        env["INTROVAC_MODELS_DIR"] = str(args.models_dir)
    if args.model:
        env["INTROVAC_DEFAULT_MODEL"] = args.model
    return env


ROUTES = {"edit": "/edit?attribute=eyeglasses", "faces": "/faces"}


async def burst(url: str, data: bytes, count: int, path: str) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=count)) as client:

        async def one() -> int:
            files = {"image": ("bomb.png", data, "image/png")}
            response = await client.post(path, files=files)
            return response.status_code

        return await asyncio.gather(*(one() for _ in range(count)))


def run(args: argparse.Namespace) -> dict:
    data = zeros_png(args.side, alpha=args.alpha)
    record: dict = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        uvicorn_server(server_env(args), Path(tmp) / "server.log", 300, record) as url,
    ):
        pid = record["pid"]
        before = read_status(pid)["VmRSS"]
        sampler = RssSampler(pid).start()
        began = time.perf_counter()
        statuses = asyncio.run(burst(url, data, args.count, ROUTES[args.route]))
        elapsed = time.perf_counter() - began
        time.sleep(2.0)
        peak = sampler.stop()
        after = read_status(pid)["VmRSS"]
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return {
        "route": ROUTES[args.route].split("?")[0],
        "count": args.count,
        "side": args.side,
        "upload_bytes": len(data),
        "budget_bytes": args.budget_bytes,
        "statuses": counts,
        "elapsed_s": elapsed,
        "rss_before_kib": before,
        "rss_peak_kib": peak,
        "rss_after_kib": after,
        "peak_growth_kib": peak - before,
        "within_budget": (peak - before) * 1024 <= args.budget_bytes,
    }


def report(result: dict) -> str:
    return "\n".join(
        [
            f"{result['count']} concurrent {result['route']} of a {result['side']}x{result['side']} zeros PNG "
            f"({result['upload_bytes']} bytes each), decode budget {mib(result['budget_bytes'] // 1024)}",
            f"statuses: {result['statuses']}  in {result['elapsed_s']:.1f} s",
            f"server RSS: before {mib(result['rss_before_kib'])}, peak {mib(result['rss_peak_kib'])}, "
            f"2 s after {mib(result['rss_after_kib'])}",
            f"peak growth {mib(result['peak_growth_kib'])}: "
            + ("within the budget" if result["within_budget"] else "OVER the budget"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--route", choices=sorted(ROUTES), default="edit")
    parser.add_argument("--side", type=int, default=6300)
    parser.add_argument("--alpha", action="store_true", help="RGBA zeros (the costliest mode)")
    parser.add_argument("--budget-bytes", type=int, default=GiB)
    parser.add_argument("--max-pixels", type=int, default=40_000_000, help="the server's INTROVAC_MAX_PIXELS")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
