"""Where the milliseconds of ``POST /edit`` go: py-spy on a live server, CPU ms per request by stage.

Starts the service (``bench_server.uvicorn_server``: uvicorn subprocess on 127.0.0.1), sends
sequential ``/edit?attribute=eyeglasses&delta=3`` requests with a pool of distinct uploads
(``uploads.upload_pool``), samples the server with ``py-spy record`` meanwhile, and prints the
server's CPU time per request split into stages. A sample belongs to the innermost frame of
its stack that matches a stage (``STAGES``, first match from the leaf up), so "middleware"
is the middleware's own code, not what it wraps. CPU time comes from /proc (Linux only).

    python benchmarks/profile_edit.py --upload portrait512 --requests 400 --threads 1
    python benchmarks/profile_edit.py --upload small64 --raw /tmp/small64.txt
    python benchmarks/profile_edit.py --upload small64 --server naive   # the 40-line handler, same stages

Requires py-spy (``pip install py-spy``) and permission to ptrace the server (same user).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import process_server, uvicorn_server  # noqa: E402  (benchmarks/ is not a package)
from peer_servers import server_spec  # noqa: E402
from uploads import upload_pool  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# (stage, substrings of a py-spy frame "function (file:line)"); the first stage matched
# from the leaf of a stack upwards claims the sample.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("onnxruntime run (encoder + decoder)", ("onnxruntime_inference_collection.py",)),
    ("PNG encode (zlib)", ("encode_png", "Image.save (PIL/", "_save (PIL/")),
    ("uint8 conversion of the output", ("to_uint8",)),
    ("crop + resize + float input", ("model_array",)),
    (
        "image decode (Pillow open/load/convert, libspng)",
        (
            "load_opened", "to_rgb", "exif_transpose", "decode_image", "open_image", "png_pixels.py",
            "open (PIL/Image.py", "_open_core (PIL/", "ImageFile.load (PIL/", "Image.convert (PIL/",
        ),
    ),
    ("latent math + probability headers", ("service/latent/", "kv_header")),
    ("fused edit call (concatenations, results)", ("service/runtime/fused.py",)),
    ("multipart parsing", ("formparsers.py", "multipart/", "read_upload", "datastructures.py")),
    ("batcher (asyncio work)", ("service/runtime/batcher.py", "service/runtime/registry.py")),
    ("executor / thread hops", ("concurrent/futures", "anyio/", "threading.py", "to_thread", "side_thread.py")),
    ("metrics (prometheus)", ("prometheus_client",)),
    ("middleware (service + starlette)", ("service/api/errors.py", "service/api/metrics.py", "middleware/")),
    ("FastAPI routing, dependencies, validation", ("fastapi/", "starlette/routing.py", "pydantic")),
    # naive_app.py: the peer's handler, whose one function does what our route and pipeline do
    ("route + pipeline code", ("service/api/", "service/runtime/pipeline.py", "naive_app.py")),
    ("responses (starlette)", ("starlette/responses.py",)),
    ("HTTP protocol (uvicorn, h11/httptools)", ("uvicorn/", "h11/", "httptools")),
    ("asyncio event loop", ("asyncio/",)),
]  # fmt: skip
OTHER = "other"
# Leaves of samples taken while a thread waits (py-spy's own idle test misses these in
# --nonblocking mode): a pool thread blocked on its queue, or the main thread inside
# uvloop's C loop (epoll wait, or C work py-spy cannot see). They are counted apart and the
# CPU time is shared over the other samples.
IDLE_LEAVES = ("Condition.wait (threading.py", "_worker (concurrent/futures/thread.py:81)", "Runner.run (asyncio/")
IDLE = "idle waits / inside uvloop's C loop (excluded)"


def stage_of(stack: str) -> str:
    if stack.rsplit(";", 1)[-1].startswith(IDLE_LEAVES):
        return IDLE
    for frame in reversed(stack.split(";")):
        for stage, needles in STAGES:
            if any(n in frame for n in needles):
                return stage
    return OTHER


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def send_all(url: str, pool: list[bytes], requests: int, params: dict, clients: int = 1) -> list[float]:
    """``requests`` requests from ``clients`` closed-loop clients; each upload from the pool in turn."""
    latencies: list[float] = []
    tickets = iter(range(requests))
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:

        async def worker() -> None:
            for i in tickets:
                start = time.perf_counter()
                r = await client.post("/edit", params=params, files={"image": ("face.png", pool[i % len(pool)])})
                if r.status_code != 200:
                    raise RuntimeError(f"/edit answered {r.status_code}: {r.text[:300]}")
                latencies.append((time.perf_counter() - start) * 1000.0)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("INTROVAC_")}
    env.update(
        INTROVAC_MODELS_DIR=str(args.models_dir),
        INTROVAC_MODELS=args.model,
        INTROVAC_PROVIDERS="CPUExecutionProvider",
        INTROVAC_INTRA_OP_THREADS=str(args.threads),
        INTROVAC_LOG_LEVEL="warning",
    )
    return env


def started(args: argparse.Namespace, log_path: Path, record: dict):
    """The server to profile, as a context manager yielding its URL (``record`` gets its pid)."""
    if args.server == "service":
        return uvicorn_server(server_env(args), log_path, 120.0, record)
    spec = server_spec("naive", args.models_dir / args.model, args.threads)
    return process_server(
        spec.cmd, spec.env, log_path, 120.0, record, port=spec.port, cwd=spec.cwd, ready_path=spec.ready_path
    )


def profile(args: argparse.Namespace, log_dir: Path) -> tuple[Counter, float, list[float]]:
    pool = upload_pool(args.upload, args.pool)
    params = {"attribute": "eyeglasses", "delta": "3"}
    if args.server == "service":
        params["align"] = "centre"  # the path before detection, the naive handler's work
    record: dict = {}
    with started(args, log_dir / "server.log", record) as url:
        pid = record["pid"]
        asyncio.run(send_all(url, pool, 30, params))  # warm-up, not profiled
        raw = args.raw or log_dir / "raw.txt"
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(args.rate),
                "--format",
                "raw",
            ]
            + ["--nonblocking", "--output", str(raw)]
            + (["--gil"] if args.gil else []),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # py-spy attaches
        cpu0 = cpu_seconds(pid)
        latencies = asyncio.run(send_all(url, pool, args.requests, params, args.clients))
        cpu_ms = (cpu_seconds(pid) - cpu0) * 1000.0 / args.requests
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        _, err = spy.communicate(timeout=60)
        if not Path(raw).exists():
            raise RuntimeError(f"py-spy wrote nothing: {err.decode(errors='replace')[-2000:]}")
    samples: Counter = Counter()
    for line in Path(raw).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            samples[stage_of(stack)] += int(count)
    return samples, cpu_ms, latencies


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    p.add_argument("--model", default="synthfaces-introvac-64")
    p.add_argument("--upload", choices=["portrait512", "small64"], default="portrait512")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--pool", type=int, default=100, help="distinct uploads cycled through")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--clients", type=int, default=1, help="concurrent closed-loop clients")
    p.add_argument("--gil", action="store_true", help="sample only the thread holding the GIL (the serial part)")
    p.add_argument("--server", choices=["service", "naive"], default="service", help="naive: peers/naive_app.py")
    p.add_argument("--raw", type=Path, default=None, help="keep py-spy's collapsed stacks here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="profile_edit_") as log_dir:
        samples, cpu_ms, latencies = profile(args, Path(log_dir))
    idle = samples.pop(IDLE, 0)
    total = sum(samples.values()) or 1
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    print(
        f"{args.server} /edit {args.upload}, {args.requests} requests, {args.clients} client(s): p50 {p50:.2f} ms, server CPU {cpu_ms:.2f} ms/request"
    )
    print(f"samples: {total} busy, {idle} idle or in uvloop's C code (not attributed)")
    print(f"{'stage':45s} {'share':>7s} {'CPU ms/request':>15s}")
    for stage, count in samples.most_common():
        print(f"{stage:45s} {100.0 * count / total:6.1f}% {cpu_ms * count / total:15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
