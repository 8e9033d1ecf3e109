"""End-to-end cost of the HTTP service: HTTP overhead, dynamic batching, /generate.

Runs the REAL server (uvicorn subprocess on 127.0.0.1, free port) once per batching
configuration, since batching settings are start-up settings: ``batched``
(max_batch_size=--batch-size, max_batch_wait_ms=--batch-wait-ms) and ``unbatched`` (1, 0),
and drives it with httpx. Prints: the engine's own encode+decode time for one image (no
HTTP); /edit p50/p99 of sequential requests and the HTTP overhead factor (/edit p50 /
engine p50); /edit requests/s at each --concurrency in both configurations with the mean
batch the server formed (from /metrics) and the batching speed-up (batched / unbatched);
GET /generate with the paper's settings (Langevin, 5000 steps, alpha 2e-4, n=1, first
attribute) against one engine decode, with each prior the model offers (fitted, standard).

    python benchmarks/bench_service.py                                   # models/<default>
    python benchmarks/bench_service.py --models-dir /tmp/m --model tiny --requests 300
    python benchmarks/bench_service.py --quick --json /tmp/bench.json    # seconds (smoke test)

Every measurement is bounded (--requests, --max-seconds), servers are always stopped, and
traffic goes only to 127.0.0.1. The client shares the machine with the server: on a small
CPU box its own work lowers the throughput figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.app import resolve_default_model
from service.artifact import ArtifactError
from service.imaging.encode import encode_png, to_uint8
from service.latent.edit import LinearClassifier
from service.latent.sampling import langevin_sample
from service.runtime.engine import Engine, load_engine
from service.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import derive, problems, report  # noqa: E402  (benchmarks/ is not a package)
from bench_server import mean_batches, uvicorn_server  # noqa: E402

PAPER_STEPS, PAPER_STEP_SIZE = 5000, 2e-4
WARMUP_ROUNDS = 3  # untimed rounds of `concurrency` requests before each /edit measurement
FULL = {"requests": 200, "generate_requests": 5, "langevin_steps": PAPER_STEPS, "max_seconds": 60.0}
QUICK = {"requests": 24, "generate_requests": 1, "langevin_steps": 200, "max_seconds": 10.0}


# ----------------------------------------------------------------------------- results
@dataclass
class Load:
    """One bounded run of requests at a fixed concurrency."""

    route: str
    concurrency: int
    sent: int = 0
    ok: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # successful requests only
    mean_batch: dict[str, float] = field(default_factory=dict)  # op -> rows per engine call

    def summary(self) -> dict:
        """Everything but the raw latencies, plus requests/s (successes only) and percentiles."""
        out = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        p50, p99 = np.percentile(self.latencies_ms, [50, 99]) if self.latencies_ms else (float("nan"),) * 2
        rate = self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return {**out, "requests_per_s": rate, "p50_ms": float(p50), "p99_ms": float(p99)}


def p50_ms(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


# ----------------------------------------------------------------------------- in-process figures
def engine_figures(engine: Engine, image: np.ndarray, attribute: str, args: argparse.Namespace) -> dict:
    """Raw engine times for the batch one /edit request forms, and the Langevin loop alone."""
    batch = image[None]
    mean = engine.encode(batch)[0]
    classifier = LinearClassifier.from_manifest(engine.manifest)
    rng = np.random.default_rng(0)
    repeats = max(args.requests, 20)

    def langevin() -> None:
        langevin_sample(classifier, {attribute: True}, 1, rng, steps=args.langevin_steps, step_size=args.step_size)

    return {
        "encode_decode_p50_ms": p50_ms(lambda: engine.decode(engine.encode(batch)[0]), repeats),
        "decode_p50_ms": p50_ms(lambda: engine.decode(mean), repeats),
        "langevin_p50_ms": p50_ms(langevin, args.generate_requests, warmup=0),
    }


def upload_image(engine: Engine, size: int) -> tuple[np.ndarray, bytes]:
    """A decoded prior sample (a face for a trained model) as model input and as PNG upload."""
    m = engine.manifest
    z = np.random.default_rng(0).standard_normal((1, m.latent_dim)).astype(np.float32)
    image = engine.decode(z)[0]
    pixels = Image.fromarray(to_uint8(image, m.value_range))
    if size != m.image_size:
        pixels = pixels.resize((size, size), Image.Resampling.BICUBIC)
    return image.astype(np.float32), encode_png(np.asarray(pixels))


# ----------------------------------------------------------------------------- the server
def server_env(args: argparse.Namespace, batch_size: int, wait_ms: float) -> dict[str, str]:
    """The developer's INTROVAC_* variables are dropped: the server runs exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("INTROVAC_")}
    env.update(
        {
            "INTROVAC_MODELS_DIR": str(args.models_dir),
            "INTROVAC_MODELS": args.model,
            "INTROVAC_DEFAULT_MODEL": args.model,
            "INTROVAC_BACKEND": args.backend,
            "INTROVAC_MAX_BATCH_SIZE": str(batch_size),
            "INTROVAC_MAX_BATCH_WAIT_MS": str(wait_ms),
            "INTROVAC_MAX_QUEUE_DEPTH": str(max(64, 4 * max(args.concurrency))),
            "INTROVAC_REQUEST_TIMEOUT_S": str(args.http_timeout),
            "INTROVAC_MAX_LANGEVIN_STEPS": str(max(args.langevin_steps, 1)),
            "INTROVAC_LOG_LEVEL": "warning",
        }
    )
    if args.providers:
        env["INTROVAC_PROVIDERS"] = ",".join(args.providers)
    if args.threads:
        env["INTROVAC_INTRA_OP_THREADS"] = str(args.threads)
    return env


@contextlib.contextmanager
def running_server(
    args: argparse.Namespace, label: str, batch_size: int, wait_ms: float, record: dict
) -> Iterator[str]:
    """The service with these batching settings (``bench_server.uvicorn_server``), its log in --log-dir."""
    with uvicorn_server(
        server_env(args, batch_size, wait_ms), Path(args.log_dir) / f"server-{label}.log", args.startup_timeout, record
    ) as url:
        yield url


# ----------------------------------------------------------------------------- load generation
Send = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def drive(
    url: str, route: str, send: Send, concurrency: int, args: argparse.Namespace, warmup: bool = True
) -> Load:
    """``concurrency`` clients send until ``args.requests`` were sent or ``args.max_seconds`` passed."""
    total = args.generate_requests if route == "/generate" else args.requests
    load = Load(route=route, concurrency=concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=args.http_timeout) as client:
        for _ in range(WARMUP_ROUNDS if warmup else 0):  # opens connections, settles the server; not timed
            await asyncio.gather(*(send(client, -1 - i) for i in range(concurrency)))
        before = mean_batches((await client.get("/metrics")).text, args.model)
        tickets = iter(range(total))  # shared by the workers (one event loop: no lock needed)
        deadline = time.perf_counter() + args.max_seconds

        async def worker() -> None:
            for i in tickets:
                if time.perf_counter() > deadline:
                    return
                load.sent += 1
                start = time.perf_counter()
                try:
                    response = await send(client, i)
                    key = str(response.status_code)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                load.statuses[key] = load.statuses.get(key, 0) + 1
                if key == "200":
                    load.ok += 1
                    load.latencies_ms.append((time.perf_counter() - start) * 1000.0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        load.elapsed_s = time.perf_counter() - start
        after = mean_batches((await client.get("/metrics")).text, args.model)
    for op, (s, c) in after.items():
        s0, c0 = before.get(op, (0.0, 0.0))
        if c > c0:
            load.mean_batch[op] = (s - s0) / (c - c0)
    return load


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", type=Path, default=None, help="default: the service settings' models_dir")
    p.add_argument("--model", default=None, help="model folder name (default: the service's default model)")
    p.add_argument("--backend", choices=["onnx", "torchscript"], default=None, help="default: settings")
    p.add_argument(
        "--providers",
        type=lambda s: [x for x in s.split(",") if x],
        default=None,
        help="ONNX Runtime providers, comma-separated (default: settings; CUDA when available)",
    )
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: settings)")
    p.add_argument("--requests", type=int, default=None, help=f"requests per /edit measurement ({FULL['requests']})")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 16], help="client counts (1 is always run)")
    p.add_argument("--batch-size", type=int, default=16, help="max_batch_size of the batched configuration")
    p.add_argument("--batch-wait-ms", type=float, default=0.0, help="max_batch_wait_ms of the batched configuration")
    p.add_argument("--image-size", default="auto", help="side of the uploaded PNG; auto: the manifest's image_size")
    p.add_argument(
        "--generate-requests", type=int, default=None, help=f"/generate requests ({FULL['generate_requests']})"
    )
    p.add_argument("--langevin-steps", type=int, default=None, help=f"Langevin steps for /generate ({PAPER_STEPS})")
    p.add_argument("--step-size", type=float, default=PAPER_STEP_SIZE, help="Langevin step size alpha")
    p.add_argument("--max-seconds", type=float, default=None, help="time bound per measurement (60; quick: 10)")
    p.add_argument("--http-timeout", type=float, default=60.0, help="per-request timeout (s)")
    p.add_argument("--startup-timeout", type=float, default=120.0, help="longest wait for /ready (s)")
    p.add_argument("--quick", action="store_true", help="tiny numbers: a run of seconds (smoke test)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.concurrency = sorted({1, *args.concurrency})
    if min(args.concurrency) < 1 or args.requests < 1 or args.generate_requests < 1 or args.batch_size < 1:
        p.error("--concurrency, --requests, --generate-requests and --batch-size must be >= 1")
    if args.langevin_steps < 1 or args.step_size <= 0 or args.max_seconds <= 0 or args.batch_wait_ms < 0:
        p.error("--langevin-steps, --step-size and --max-seconds must be > 0, --batch-wait-ms >= 0")
    if args.image_size != "auto" and not (args.image_size.isdigit() and int(args.image_size) > 0):
        p.error(f"--image-size must be 'auto' or a positive integer, got {args.image_size!r}")
    settings = Settings(**({"models_dir": args.models_dir} if args.models_dir else {}))
    args.models_dir = Path(settings.models_dir).resolve()
    args.backend = args.backend or settings.backend
    args.providers = args.providers or settings.providers
    args.threads = args.threads or settings.intra_op_threads
    try:
        args.model = args.model or resolve_default_model(settings)
    except ArtifactError as exc:
        p.error(str(exc))
    if not (args.models_dir / args.model / "manifest.json").is_file():
        p.error(f"no model {args.model!r}: {args.models_dir / args.model / 'manifest.json'} does not exist")
    return args


def run(args: argparse.Namespace) -> dict:
    engine = load_engine(
        args.models_dir / args.model, args.backend, providers=args.providers, intra_op_threads=args.threads
    )
    m = engine.manifest
    size = m.image_size if args.image_size == "auto" else int(args.image_size)
    attribute = m.attribute_names[0]
    image, png = upload_image(engine, size)
    results: dict = {
        "model": {
            "name": args.model,
            "image_size": m.image_size,
            "latent_dim": m.latent_dim,
            "backend": engine.backend,
            "device": engine.device,
        },
        "upload": {"size": size, "bytes": len(png)},
        "attribute": attribute,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "engine": engine_figures(engine, image, attribute, args),
        "configs": {},
    }
    del engine  # frees its memory (GPU included) before the servers load the model

    def edit(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
        return client.post("/edit", params={"attribute": attribute}, files={"image": ("face.png", png, "image/png")})

    priors = ["fitted", "standard"] if m.latent_prior is not None else ["standard"]

    def generate(prior: str) -> Send:
        def call(client: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
            params = {
                "attribute": attribute,
                "n": 1,
                "steps": args.langevin_steps,
                "step_size": args.step_size,
                "seed": i,
                "prior": prior,
            }
            return client.get("/generate", params=params)

        return call

    configs = {"batched": (args.batch_size, args.batch_wait_ms), "unbatched": (1, 0.0)}
    for label, (batch_size, wait_ms) in configs.items():
        record: dict = {"max_batch_size": batch_size, "max_batch_wait_ms": wait_ms}
        results["configs"][label] = record
        with running_server(args, label, batch_size, wait_ms, record) as url:
            record["edit"] = [asyncio.run(drive(url, "/edit", edit, c, args)).summary() for c in args.concurrency]
            if label == "batched":  # the production configuration; n=1 gains nothing from batching
                results["generate_by_prior"] = {
                    prior: asyncio.run(drive(url, "/generate", generate(prior), 1, args, warmup=False)).summary()
                    for prior in priors
                }
                results["generate"] = results["generate_by_prior"][priors[0]]  # the service's default
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_service_") as log_dir:
        args.log_dir = log_dir
        try:
            results = run(args)
        except (ArtifactError, RuntimeError, httpx.HTTPError) as exc:
            print(f"bench_service: error: {exc}", file=sys.stderr)
            return 1
    del results["settings"]["log_dir"]
    derive(results)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"results written to {args.json}")
    failed = problems(results)
    for line in failed:
        print(f"bench_service: error: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
