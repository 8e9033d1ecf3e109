"""Figures of ``bench_service.py``: the ratios it derives, the failures it refuses, its printout."""

from __future__ import annotations


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def derive(r: dict) -> None:
    """Add the ratios the issue asks for to ``r`` (so the printout and the JSON agree)."""
    e = r["engine"]
    for c in r["configs"].values():
        c["overhead_factor"] = ratio(c["edit"][0]["p50_ms"], e["encode_decode_p50_ms"])
    rates = {
        label: {load["concurrency"]: load["requests_per_s"] for load in c["edit"]} for label, c in r["configs"].items()
    }
    r["batching_speedup"] = {n: ratio(rates["batched"][n], rates["unbatched"][n]) for n in rates["batched"]}
    r["generate_vs_decode"] = ratio(r["generate"]["p50_ms"], e["decode_p50_ms"])


def problems(r: dict) -> list[str]:
    """Failed requests make the figures meaningless: list them (exit code 1)."""
    loads = [(label, load) for label, c in r["configs"].items() for load in c["edit"]] + [
        ("batched", g) for g in r["generate_by_prior"].values()
    ]
    return [
        f"{label} {load['route']} with {clients(load['concurrency'])}: {load['sent'] - load['ok']} of "
        f"{load['sent']} requests failed {load['statuses']}"
        for label, load in loads
        if load["ok"] < load["sent"] or not load["ok"]
    ]


def clients(n: int) -> str:
    return f"{n} client" + ("s" if n != 1 else "")


def report(r: dict) -> None:
    m, e, args = r["model"], r["engine"], r["settings"]
    print(
        f"model: {m['name']} ({m['image_size']}x{m['image_size']}, latent {m['latent_dim']}) "
        f"{m['backend']} on {m['device']}; upload {r['upload']['size']}x{r['upload']['size']} PNG "
        f"({r['upload']['bytes']} bytes); /edit attribute={r['attribute']}; {args['requests']} requests per measurement"
    )
    print(
        f"engine (no HTTP, batch 1): encode+decode p50 {e['encode_decode_p50_ms']:.3f} ms, "
        f"decode p50 {e['decode_p50_ms']:.3f} ms, langevin {args['langevin_steps']} steps p50 {e['langevin_p50_ms']:.1f} ms"
    )
    for label, c in r["configs"].items():
        print(f"[{label}] max_batch_size={c['max_batch_size']} max_batch_wait_ms={c['max_batch_wait_ms']:g}")
        seq = c["edit"][0]
        print(
            f"  /edit sequential latency (1 client): p50 {seq['p50_ms']:.2f} ms  p99 {seq['p99_ms']:.2f} ms  "
            f"HTTP overhead factor {c['overhead_factor']:.1f}x (p50 / engine encode+decode)"
        )
        for load in c["edit"]:
            batches = ", ".join(f"{op} {v:.1f}" for op, v in sorted(load["mean_batch"].items())) or "n/a"
            print(
                f"  /edit throughput {clients(load['concurrency']):>11}: {load['requests_per_s']:8.1f} req/s  "
                f"({load['ok']}/{load['sent']} ok in {load['elapsed_s']:.2f} s, mean batch {batches})"
            )
    print(
        "speed-up from dynamic batching (batched / unbatched req/s): "
        + "  ".join(f"{clients(n)} {s:.2f}x" for n, s in r["batching_speedup"].items())
    )
    for prior, g in r["generate_by_prior"].items():
        print(
            f"/generate (langevin {args['langevin_steps']} steps, alpha {args['step_size']:g}, n=1, prior {prior}, "
            f"{g['ok']}/{g['sent']} ok): p50 {g['p50_ms']:.1f} ms vs one engine decode {e['decode_p50_ms']:.3f} ms: "
            f"{ratio(g['p50_ms'], e['decode_p50_ms']):.0f}x"
        )
