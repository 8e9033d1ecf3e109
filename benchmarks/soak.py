"""Soak test: many clients for a while on a mix of real photos, hostile images and /generate.

Starts its own uvicorn on 127.0.0.1 (bench_server.py), then --clients concurrent clients
send requests for --seconds: /edit of scikit-image's astronaut photo (PNG, detail=full and
detail=residual), the worst images under the caps (a 6300x6300 PNG of zeros, the same in
RGBA, a 36-megapixel JPEG at detail=full, and at detail=residual the largest JPEG whose
paste-back fits the decode budget: 4100x4100 for 1 GiB) and GET /generate at the paper's
settings. A client that gets 503 waits its Retry-After, as a polite client does.
A prober in the clients' loop calls /health every 100 ms; a prober in its own process
(prober.py) sends /health and the photo edit, each 100 ms after its last answer, timing the
server without the load generator's own loop lag. Prints status counts per kind, p50/p99 of each (kind, status),
/health and 503 latency, connection errors, and the server's RSS at start
(models loaded), after the warm-up, at its peak and at the end (the last two after
--settle-s without load, so the work the server still runs for requests it already answered
with 504 has ended), with the targets of issue 12:
only 200, 503 with Retry-After and 504; zero connection errors; peak RSS under the decode
budget plus the RSS at start (the models); RSS growth after warm-up below 10%; /health and
admission-503 p99 under 50 ms as the separate prober sees them.

    python benchmarks/soak.py                                        # 64 clients, 60 s, models/<default>
    python benchmarks/soak.py --quick --models-dir /tmp/m --model tiny  # seconds (smoke test)

Bounded: --seconds of load (plus --warmup-s), at most --max-requests, each request with a
client timeout; the server is always stopped. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import uvicorn_server  # noqa: E402  (benchmarks/ is not a package)
from load_tools import (  # noqa: E402
    RssSampler,
    Tally,
    histogram_counts,
    histogram_quantile,
    mib,
    monotonic_ms,
    photo,
    read_status,
    thread_niceness,
    zeros_png,
)
from prober import merge, run_prober  # noqa: E402

from service.imaging.decode import COST_BYTES_PER_PIXEL  # noqa: E402
from service.runtime.limits import PASTE_BACK_COST_BYTES_PER_PIXEL  # noqa: E402
from service.settings import GiB  # noqa: E402

ALLOWED = {"200", "503", "504"}
FULL = {"clients": 64, "seconds": 60.0, "warmup_s": 10.0, "settle_s": 5.0, "bomb_side": 6300, "big_side": 6000}
FULL["steps"] = 5000
QUICK = {"clients": 8, "seconds": 4.0, "warmup_s": 1.0, "settle_s": 0.5, "bomb_side": 600, "big_side": 800, "steps": 50}


def residual_side(budget_bytes: int) -> int:
    """The largest square photo (in 100s) whose detail=residual edit fits the decode budget:
    bigger ones are refused with 413 by design (service.runtime.limits.WorkLimits.cost_bytes)."""
    per_pixel = COST_BYTES_PER_PIXEL + PASTE_BACK_COST_BYTES_PER_PIXEL
    return int(math.isqrt(budget_bytes // per_pixel) // 100 * 100)


def request_mix(args: argparse.Namespace) -> list[tuple[str, float, dict]]:
    """(kind, weight, request) for every kind of request the clients send."""
    astronaut = photo(512, "PNG")
    big = photo(args.big_side, "JPEG", quality=90)
    big_residual = photo(min(args.big_side, residual_side(args.budget_bytes)), "JPEG", quality=90)
    bomb, alpha_bomb = zeros_png(args.bomb_side), zeros_png(args.bomb_side, alpha=True)
    edit = "/edit?attribute=" + args.attribute

    def post(path: str, data: bytes, mime: str) -> dict:
        return {"method": "POST", "url": path, "files": {"image": ("upload", data, mime)}}

    generate = {"method": "GET", "url": f"/generate?attribute={args.attribute}&steps={args.steps}"}
    return [
        ("edit photo", 40, post(edit, astronaut, "image/png")),
        ("edit photo residual", 10, post(edit + "&detail=residual", astronaut, "image/png")),
        ("generate", 20, generate),
        ("edit bomb", 10, post(edit, bomb, "image/png")),
        ("edit rgba bomb", 5, post(edit, alpha_bomb, "image/png")),
        ("edit big jpeg", 10, post(edit, big, "image/jpeg")),
        ("edit big jpeg residual", 5, post(edit + "&detail=residual", big_residual, "image/jpeg")),
    ]


async def client_loop(client: httpx.AsyncClient, mix, seed: int, stop_at: float, tally: Tally, budget) -> None:
    """Client ``seed`` sends kind ``seed`` of the mix first, then draws kinds by weight: with
    at least as many clients as kinds, every kind is in the run, even a short one on a slow
    machine (drawing from the start, a 2 s run under load once missed a kind)."""
    kinds, weights = [m[0] for m in mix], [m[1] for m in mix]
    requests = {m[0]: m[2] for m in mix}
    rng = random.Random(seed)
    kind = kinds[seed % len(kinds)]
    while time.monotonic() < stop_at and budget["left"] > 0:
        budget["left"] -= 1
        began = time.perf_counter()
        try:
            response = await client.request(**requests[kind])
        except httpx.HTTPError as exc:
            tally.error(kind, exc)
            continue
        tally.add(kind, response.status_code, monotonic_ms(began), response.headers)
        if response.status_code == 503:
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))
        kind = rng.choices(kinds, weights)[0]


async def health_prober(client: httpx.AsyncClient, stop_at: float, tally: Tally) -> None:
    while time.monotonic() < stop_at:
        began = time.perf_counter()
        try:
            response = await client.get("/health")
            tally.add("health", response.status_code, monotonic_ms(began), response.headers)
        except httpx.HTTPError as exc:
            tally.error("health", exc)
        await asyncio.sleep(0.1)


async def drive(url: str, args: argparse.Namespace, mix, seconds: float, tally: Tally) -> None:
    limits = httpx.Limits(max_connections=args.clients + 1, max_keepalive_connections=args.clients + 1)
    timeout = httpx.Timeout(args.request_timeout_s + 30.0)
    budget = {"left": args.max_requests}
    stop_at = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:
        loops = [client_loop(client, mix, seed, stop_at, tally, budget) for seed in range(args.clients)]
        await asyncio.gather(health_prober(client, stop_at, tally), *loops)


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(
        INTROVAC_PROVIDERS="CPUExecutionProvider",
        INTROVAC_DECODE_BUDGET_BYTES=str(args.budget_bytes),
        INTROVAC_REQUEST_TIMEOUT_S=str(args.request_timeout_s),
        PYTHONPATH=str(REPO),
    )
    if args.models_dir:
        env["INTROVAC_MODELS_DIR"] = str(args.models_dir)
    if args.model:
        env["INTROVAC_DEFAULT_MODEL"] = args.model
    if args.worker_niceness is not None:
        env["INTROVAC_WORKER_NICENESS"] = str(args.worker_niceness)
    return env


LOOP_LAG = "introvac_event_loop_lag_seconds"


def loop_lag(before: str, after: str) -> dict[str, float | None]:
    """The server's own event-loop lag during the run (service.runtime.loop_lag), from two
    scrapes of /metrics: bucket upper bounds of its p50 and p99, in ms."""
    old, new = histogram_counts(before, LOOP_LAG), histogram_counts(after, LOOP_LAG)
    quantiles = {q: histogram_quantile(old, new, q) for q in (0.5, 0.99)}
    return {f"p{round(100 * q)} <= ms": None if v is None else 1000 * v for q, v in quantiles.items()}


def run(args: argparse.Namespace) -> dict:
    mix = request_mix(args)
    record: dict = {}
    warm, tally = Tally(), Tally()
    with (
        tempfile.TemporaryDirectory() as tmp,
        uvicorn_server(server_env(args), Path(tmp) / "server.log", 300, record) as url,
    ):
        pid = record["pid"]
        rss = {"start": read_status(pid)["VmRSS"]}
        sampler = RssSampler(pid).start()
        asyncio.run(drive(url, args, mix, args.warmup_s, warm))
        time.sleep(args.settle_s)  # work the server still runs for abandoned (504) requests ends
        rss["after_warmup"] = read_status(pid)["VmRSS"]
        executor, probes = run_prober(url, args.seconds, {kind: request for kind, _, request in mix}["edit photo"])
        niceness = thread_niceness(pid)  # the worker threads exist after the warm-up
        priority = lower_client_priority(args)  # after the server and the prober started: only the load clients
        scrape = httpx.get(url + "/metrics").text
        began = time.perf_counter()
        try:
            asyncio.run(drive(url, args, mix, args.seconds, tally))
            elapsed = time.perf_counter() - began
            lag = loop_lag(scrape, httpx.get(url + "/metrics").text)
            merge(tally, probes.result(timeout=args.seconds + 120))
        finally:
            executor.shutdown(cancel_futures=True)
        time.sleep(args.settle_s)
        rss["end"] = read_status(pid)["VmRSS"]
        rss["peak"] = sampler.stop()
        returned_after = wait_for_rss(pid, 1.10 * rss["after_warmup"], args.recheck_s)
    extra = {"server_loop_lag": lag, "rss_back_within_10pct_after_s": returned_after}
    extra |= {"client_priority": priority, "server_thread_niceness": niceness}
    return summarize(args, tally, warm, rss, elapsed) | extra


def lower_client_priority(args: argparse.Namespace) -> dict:
    """Stand in for clients on other machines, which do not take the server's cores.

    ``--client-niceness`` only lowers the clients' weight; ``--client-sched-idle`` runs them
    under SCHED_IDLE, so they get a core only when the server leaves one idle. Either applies
    to this process's main thread, where the asyncio load clients run.
    """
    if args.client_niceness:
        os.nice(args.client_niceness)
    if args.client_sched_idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    return {"niceness": os.nice(0), "sched_idle": os.sched_getscheduler(0) == os.SCHED_IDLE}  # as measured


def wait_for_rss(pid: int, ceiling_kib: float, seconds: float) -> float | None:
    """Seconds (after the end reading) until RSS is at most ``ceiling_kib``; None if not within
    ``seconds``. Tells memory the server keeps apart from work still finishing."""
    began = time.monotonic()
    while True:
        waited = time.monotonic() - began
        if read_status(pid)["VmRSS"] <= ceiling_kib:
            return waited
        if waited >= seconds:
            return None
        time.sleep(0.5)


def latency_targets(tally: Tally) -> dict[str, bool]:
    """Issue 12's 50 ms p99 for /health and for admission 503s, timed by the separate prober
    (benchmarks/prober.py); the 503 target only when the prober was refused at all."""
    health, refused = tally.percentiles("probe health 200"), tally.percentiles("probe edit 503")
    targets = {"/health p99 < 50 ms (prober)": health is not None and health[1] < 50.0}
    if refused is not None:
        targets["503 p99 < 50 ms (prober)"] = refused[1] < 50.0
    return targets


def summarize(args: argparse.Namespace, tally: Tally, warm: Tally, rss: dict, elapsed: float) -> dict:
    per_kind = {kind: dict(sorted(counts.items())) for kind, counts in sorted(tally.statuses.items())}
    latency = {key: tally.percentiles(key) for key in sorted(tally.latencies_ms)}
    totals = tally.totals()
    both = Tally()
    both.connection_errors = tally.connection_errors + warm.connection_errors
    growth = (rss["end"] - rss["after_warmup"]) / rss["after_warmup"]
    statuses = set(totals) | set(warm.totals())
    targets = {
        "only 200, 503 and 504": statuses <= ALLOWED,
        "every 503 has Retry-After": tally.missing_retry_after + warm.missing_retry_after == 0,
        "zero connection errors": not both.connection_errors,
        "peak RSS under budget + models": (rss["peak"] - rss["start"]) * 1024 <= args.budget_bytes,
        "RSS growth after warm-up < 10%": growth < 0.10,
    }
    targets.update(latency_targets(tally))
    return {
        "clients": args.clients,
        "seconds": elapsed,
        "requests": sum(totals.values()),
        "statuses": dict(sorted(totals.items())),
        "per_kind": per_kind,
        "latency_ms": latency,
        "connection_errors": dict(both.connection_errors),
        "rss_kib": rss,
        "rss_growth_after_warmup": growth,
        "budget_bytes": args.budget_bytes,
        "targets": targets,
    }


def report(result: dict) -> str:
    lines = [
        f"{result['clients']} clients, {result['seconds']:.0f} s: {result['requests']} requests, "
        f"statuses {result['statuses']}, connection errors {result['connection_errors'] or 0}",
        "per kind:",
    ]
    lines += [f"  {kind:24s} {counts}" for kind, counts in result["per_kind"].items()]
    lines.append("latency p50 / p99 (ms):")
    for key, pair in result["latency_ms"].items():
        if pair is not None:
            lines.append(f"  {key:28s} {pair[0]:9.1f} {pair[1]:9.1f}")
    rss = result["rss_kib"]
    lines.append(
        f"server RSS: start {mib(rss['start'])}, after warm-up {mib(rss['after_warmup'])}, "
        f"peak {mib(rss['peak'])}, end {mib(rss['end'])} (growth after warm-up "
        f"{100 * result['rss_growth_after_warmup']:+.1f}%; decode budget {mib(result['budget_bytes'] // 1024)})"
    )
    lag = result.get("server_loop_lag") or {}
    lines.append("server event-loop lag (its own monitor): " + ", ".join(f"{k} {v}" for k, v in lag.items()))
    back = result.get("rss_back_within_10pct_after_s")
    lines.append(
        f"RSS within 10% of after-warm-up: {'not within the recheck' if back is None else f'{back:.1f} s after the end reading'}"
    )
    lines += [f"target: {name}: {'met' if ok else 'MISSED'}" for name, ok in result["targets"].items()]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--attribute", default="eyeglasses")
    parser.add_argument("--quick", action="store_true", help="tiny settings, seconds (smoke test)")
    for name in FULL:
        parser.add_argument("--" + name.replace("_", "-"), type=type(FULL[name]), default=None)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--budget-bytes", type=int, default=GiB)
    parser.add_argument("--request-timeout-s", type=float, default=30.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--recheck-s", type=float, default=30.0, help="how long to wait for RSS to come back")
    parser.add_argument("--worker-niceness", type=int, help="INTROVAC_WORKER_NICENESS (default: the service's)")
    parser.add_argument(
        "--client-niceness",
        type=int,
        default=0,
        help="nice value added to the load clients once the server and the prober run: stands in for "
        "clients on other machines, which do not take the server's cores (default 0: same priority)",
    )
    parser.add_argument(
        "--client-sched-idle",
        action="store_true",
        help="run the load clients under SCHED_IDLE once the server and the prober run (Linux): the "
        "closest stand-in on one host for clients on other machines",
    )
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
