"""This service against what users would run instead, in one interleaved run: throughput ratios.

Starts every server itself (``peer_servers.py``: this service batched and unbatched, the
40-line FastAPI handler ``peers/naive_app.py``, LitServe with its dynamic batching
``peers/litserve_app.py``, BentoML with its adaptive batching ``peers/bentoml_app.py``),
each with the same model files and ONNX Runtime threads, and drives
``POST /edit?attribute=eyeglasses&delta=3`` (``&align=centre`` for the service: the peers
edit the centre square, so every server does the same work) with closed-loop httpx
clients. Every request carries a different upload (``uploads.upload_pool``: a pool of noisy
variants of a 512x512 PNG portrait and of a 64x64 PNG). Measurements are interleaved: each round visits
every (model, upload, clients) cell and, within it, every server, so drift in a shared
machine's load hits all servers alike. Prints every figure and the ratios of the targets.

    python benchmarks/bench_peers.py                                   # shipped model, 10 s cells
    python benchmarks/bench_peers.py --paper-model                     # also a random 128x128 model
    python benchmarks/bench_peers.py --quick --servers service naive   # seconds (smoke test)
    python benchmarks/bench_peers.py --litserve-python /tmp/peers-venv/bin/python
    python benchmarks/bench_peers.py --bentoml-python .venv-bentoml/bin/python   # make bentoml-peer
    python benchmarks/bench_peers.py --baseline-root /tmp/old-checkout   # adds service-before

Exit code 1 when a request failed or a server did not start, 2 for bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's training/ (the random paper model's export), not an installed one
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import process_server  # noqa: E402  (benchmarks/ is not a package)
from load_tools import group_cpu_s, server_tree  # noqa: E402
from peer_report import report, targets  # noqa: E402
from peer_servers import KINDS, export_paper_model, peer_available, server_spec  # noqa: E402
from uploads import upload_pool  # noqa: E402

PARAMS = {"attribute": "eyeglasses", "delta": "3"}
# The peers edit the centre square; the service would first look for a face (align=auto, its
# default since photos are aligned: about 140 ms of dlib per 512 px photo, bench_faces.py).
# Same work for every server: the service is asked for the centre square too.
SERVICE_PARAMS = {**PARAMS, "align": "centre"}


async def closed_loop(url: str, kind: str, pool: list[bytes], clients: int, seconds: float, start: int) -> dict:
    """``clients`` workers, each sending its next request when the last one answered."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    tickets = iter(range(start, start + 10**9))  # shared: every request takes the next upload
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:

        def send(i: int):
            image = ("face.png", pool[i % len(pool)], "image/png")
            if kind in ("litserve", "bentoml"):  # both read their arguments from the form, not the query
                return client.post("/edit", data=PARAMS, files={"image": image})
            params = SERVICE_PARAMS if kind.startswith("service") else PARAMS
            return client.post("/edit", params=params, files={"image": image})

        await asyncio.gather(*(send(next(tickets)) for _ in range(clients)))  # connections, warm-up
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                begin = time.perf_counter()
                try:
                    key = str((await send(next(tickets))).status_code)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                statuses[key] = statuses.get(key, 0) + 1
                if key == "200":
                    latencies.append((time.perf_counter() - begin) * 1000.0)

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - begin
    return {"ok": len(latencies), "statuses": statuses, "elapsed_s": elapsed, "latencies_ms": latencies}


def merge(cells: dict, key: tuple, run: dict) -> None:
    empty = {"ok": 0, "statuses": {}, "elapsed_s": 0.0, "latencies_ms": [], "server_cpu_s": 0.0, "client_cpu_s": 0.0}
    cell = cells.setdefault(key, empty)
    for name in ("ok", "elapsed_s", "server_cpu_s", "client_cpu_s"):
        cell[name] += run[name]
    cell["latencies_ms"] += run["latencies_ms"]
    for status, count in run["statuses"].items():
        cell["statuses"][status] = cell["statuses"].get(status, 0) + count


def summarise(cells: dict) -> list[dict]:
    rows = []
    for (model, upload, clients, kind), cell in cells.items():
        lat = cell["latencies_ms"]
        p50, p99 = np.percentile(lat, [50, 99]) if lat else (float("nan"),) * 2
        rate = cell["ok"] / cell["elapsed_s"] if cell["elapsed_s"] else 0.0
        per_request = 1000.0 / cell["ok"] if cell["ok"] else float("nan")
        rows.append(
            {"model": model, "upload": upload, "clients": clients, "server": kind, "requests_per_s": rate}
            | {"p50_ms": float(p50), "p99_ms": float(p99), "ok": cell["ok"], "statuses": cell["statuses"]}
            | {"server_cpu_ms": cell["server_cpu_s"] * per_request, "client_cpu_ms": cell["client_cpu_s"] * per_request}
        )
    return rows


def pause(pid: int, paused: bool) -> None:
    """SIGSTOP / SIGCONT every process of a server this script started (its process group and
    what descends from it). Servers wait paused while another is measured: LitServe's idle
    loops poll and would take CPU (about 0.7 of a core, measured) from the server under test."""
    for member in server_tree(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGSTOP if paused else signal.SIGCONT)


@contextlib.contextmanager
def resumed(pid: int):
    pause(pid, False)
    time.sleep(0.2)  # let it settle (timers, polling loops) before the clock starts
    try:
        yield
    finally:
        pause(pid, True)


def start_all(args: argparse.Namespace, models: dict[str, Path], logs: Path, stack: contextlib.ExitStack) -> dict:
    """(model, kind) -> (url, pid) of every server, each started, ready, then paused."""
    servers = {}
    for model, folder in models.items():
        for kind in args.servers:
            spec = server_spec(
                kind, folder, args.threads, args.litserve_python, REPO, args.baseline_root, args.bentoml_python
            )
            url = stack.enter_context(
                process_server(
                    spec.cmd,
                    spec.env,
                    logs / f"{model}-{kind}.log",
                    args.startup_timeout,
                    spec.record,
                    port=spec.port,
                    cwd=spec.cwd,
                    ready_path=spec.ready_path,
                )
            )
            stack.callback(pause, spec.record["pid"], False)  # resumed before its stop: a stopped group ignores SIGTERM
            pause(spec.record["pid"], True)
            servers[model, kind] = (url, spec.record["pid"])
    return servers


def timed_cell(url: str, kind: str, pool: list[bytes], clients: int, seconds: float, start: int, pid: int) -> dict:
    """One closed-loop cell, with the CPU seconds the server (its process group) and this client
    process spent on it: on a machine where the clients share the cores, the server's CPU per
    request is the figure that compares the software alone (connection warm-up included)."""
    server_before, client_before = group_cpu_s(pid), time.process_time()
    run = asyncio.run(closed_loop(url, kind, pool, clients, seconds, start))
    run["server_cpu_s"] = group_cpu_s(pid) - server_before
    run["client_cpu_s"] = time.process_time() - client_before
    return run


def measure(args: argparse.Namespace, models: dict[str, Path], pools: dict[str, list[bytes]], logs: Path) -> list:
    """Start every (model, server) pair, run the interleaved rounds, stop them all."""
    cells: dict = {}
    with contextlib.ExitStack() as stack:
        servers = start_all(args, models, logs, stack)
        slice_s = args.seconds / args.rounds
        ticket = 0
        for _ in range(args.rounds):
            for model in models:
                for upload in args.uploads:
                    for clients in args.clients:
                        for kind in args.servers:
                            url, pid = servers[model, kind]
                            with resumed(pid):
                                run = timed_cell(url, kind, pools[upload], clients, slice_s, ticket, pid)
                            ticket += run["ok"] + clients
                            merge(cells, (model, upload, clients, kind), run)
    return summarise(cells)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=REPO / "models" / "synthfaces-introvac-64")
    p.add_argument("--paper-model", action="store_true", help="also a random 128x128 paper-architecture model")
    p.add_argument(
        "--servers", nargs="+", choices=KINDS, default=None, help="default: all (service-before with --baseline-root)"
    )
    p.add_argument("--baseline-root", type=Path, default=None, help="an older checkout to run as service-before")
    p.add_argument("--uploads", nargs="+", choices=["portrait512", "small64"], default=["portrait512", "small64"])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per cell and server, all rounds")
    p.add_argument("--rounds", type=int, default=2, help="interleaved passes over all cells")
    p.add_argument("--pool", type=int, default=300, help="distinct uploads per picture")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads of every server")
    p.add_argument("--litserve-python", default=None, help="python with litserve installed (default: this one)")
    p.add_argument("--bentoml-python", default=None, help="python with bentoml installed (make bentoml-peer)")
    p.add_argument("--startup-timeout", type=float, default=180.0)
    p.add_argument("--quick", action="store_true", help="1 s cells, 1 round, a pool of 8 (smoke test)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.pool = min(args.seconds, 1.0), 1, min(args.pool, 8)
    if args.seconds <= 0 or args.rounds < 1 or args.pool < 1 or min(args.clients) < 1 or args.threads < 1:
        p.error("--seconds must be > 0; --rounds, --pool, --clients and --threads >= 1")
    if not (args.model_dir / "manifest.json").is_file():
        p.error(f"no model at {args.model_dir} (manifest.json missing)")
    if args.servers is None:
        args.servers = [k for k in KINDS if k != "service-before" or args.baseline_root is not None]
    if "service-before" in args.servers and args.baseline_root is None:
        p.error("service-before needs --baseline-root")
    args.servers = list(dict.fromkeys(args.servers))
    # Absolute, not resolved: the peers start in benchmarks/peers/, and a venv's python is a link.
    for name in ("litserve_python", "bentoml_python"):
        if getattr(args, name) is not None:
            setattr(args, name, os.path.abspath(getattr(args, name)))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for peer, python in (("litserve", args.litserve_python), ("bentoml", args.bentoml_python)):
        if peer in args.servers and (reason := peer_available(peer, python)):
            print(f"bench_peers: skipping {peer}: {reason}")
            args.servers.remove(peer)
    pools = {upload: upload_pool(upload, args.pool) for upload in args.uploads}
    with tempfile.TemporaryDirectory(prefix="bench_peers_") as tmp:
        models = {args.model_dir.name: args.model_dir.resolve()}
        if args.paper_model:
            models["paper128"] = export_paper_model(Path(tmp) / "models")
        try:
            rows = measure(args, models, pools, Path(tmp))
        except (RuntimeError, httpx.HTTPError) as exc:
            print(f"bench_peers: error: {exc}", file=sys.stderr)
            return 1
    verdicts = targets(rows)
    report(rows, verdicts, args)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "targets": verdicts}, indent=2))
    failed = [r for r in rows if r["ok"] == 0 or set(r["statuses"]) != {"200"}]
    for r in failed:
        print(f"bench_peers: error: {r['server']} {r['model']} {r['upload']} {r['clients']}: {r['statuses']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
