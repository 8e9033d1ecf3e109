"""Figures and target ratios of bench_peers.py (issue 13), printed and returned for the JSON."""

from __future__ import annotations

import argparse
import math

# (name, server, peer, figure, clients, goal, model): figure "rate" -> service/peer req/s >= goal;
# "p50" -> service p50 / peer p50 <= goal; "cpu" -> peer / service server CPU ms per request
# (info: the software's own cost, apart from the clients sharing the cores). clients "many": the
# run's largest client count (the 16), "one": its smallest (1). model None: every model;
# "paper128": only that one.
TARGETS = [
    ("throughput vs naive", "service", "naive", "rate", "many", 1.5, None),
    ("p50 vs naive", "service", "naive", "p50", "one", 1.0, None),
    ("throughput vs LitServe", "service", "litserve", "rate", "many", 1.3, None),
    ("throughput vs BentoML (info)", "service", "bentoml", "rate", "many", 1.3, "-"),
    ("throughput batched vs unbatched", "service", "service-unbatched", "rate", "many", 2.0, "paper128"),
    ("server CPU per request, naive / service (info)", "service", "naive", "cpu", "many", 1.5, "-"),
    ("server CPU per request, LitServe / service (info)", "service", "litserve", "cpu", "many", 1.3, "-"),
    ("throughput vs before (info)", "service", "service-before", "rate", "many", 1.0, "-"),
    ("p50 vs before (info)", "service", "service-before", "p50", "one", 1.0, "-"),
]


def _index(rows: list[dict]) -> dict:
    return {(r["model"], r["upload"], r["clients"], r["server"]): r for r in rows}


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(b) else float("nan")


def targets(rows: list[dict]) -> list[dict]:
    """Every target ratio that this run's servers allow, with ``met`` (None: information only)."""
    index = _index(rows)
    cells = sorted({(r["model"], r["upload"]) for r in rows})
    counts = {"many": max(r["clients"] for r in rows), "one": min(r["clients"] for r in rows)}
    out = []
    for name, server, peer, figure, which, goal, only in TARGETS:
        clients = counts[which]
        for model, upload in cells:
            mine, theirs = index.get((model, upload, clients, server)), index.get((model, upload, clients, peer))
            if mine is None or theirs is None:
                continue
            if figure == "rate":
                value = ratio(mine["requests_per_s"], theirs["requests_per_s"])
                met = value >= goal
            elif figure == "cpu":
                value = ratio(theirs["server_cpu_ms"], mine["server_cpu_ms"])
                met = value >= goal
            else:
                value = ratio(mine["p50_ms"], theirs["p50_ms"])
                met = value <= goal
            applies = only is None or only == model
            out.append(
                {"target": name, "model": model, "upload": upload, "clients": clients, "value": value}
                | {"goal": goal, "figure": figure, "met": met if applies else None}
            )
    return out


def report(rows: list[dict], verdicts: list[dict], args: argparse.Namespace) -> None:
    print(
        f"/edit attribute=eyeglasses delta=3; closed-loop httpx clients on this machine; ONNX Runtime CPU, "
        f"{args.threads} intra-op thread(s); {args.seconds:g} s per cell and server in {args.rounds} interleaved "
        f"round(s); {args.pool} distinct uploads per picture"
    )
    print(
        f"{'model':24s} {'upload':12s} {'clients':>7s} {'server':18s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
        f"{'srv CPU':>8s} {'cli CPU':>8s}  (CPU: ms per request)"
    )
    for r in sorted(rows, key=lambda r: (r["model"], r["upload"], r["clients"], r["server"])):
        print(
            f"{r['model']:24s} {r['upload']:12s} {r['clients']:7d} {r['server']:18s} "
            f"{r['requests_per_s']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['server_cpu_ms']:8.2f} {r['client_cpu_ms']:8.2f}"
        )
    print("ratios (service / peer; p50: lower is better):")
    for v in verdicts:
        verdict = {True: "MET", False: "MISSED", None: "info"}[v["met"]]
        sign = "<=" if v["figure"] == "p50" else ">="
        print(
            f"  {v['target']:32s} {v['model']:24s} {v['upload']:12s} {v['clients']:2d} clients: "
            f"{v['value']:.2f}x (target {sign} {v['goal']:g}x) {verdict}"
        )
