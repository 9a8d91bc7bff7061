"""A bounded load test of a running ``citeqa serve``: N concurrent clients POST /api/ask for D seconds.

    .venv/bin/python benchmarks/bench_load.py --start          # a private server, 15 s warm-up, 32 clients, 60 s
    .venv/bin/python benchmarks/bench_load.py --url http://127.0.0.1:7860 --clients 32 --duration 60
    .venv/bin/python benchmarks/bench_load.py --start --quick  # smoke run: 4 clients, 5 s
    .venv/bin/python benchmarks/bench_load.py --compare old=d7b5632 new=.   # side by side, interleaved

Each client sends one request at a time (so at most N are in flight). Every question is one the
server has not seen: an eval question with a serial number appended ("…？ 第17題"), so no answer
comes from the server's query-vector cache (it holds 512 questions, and the eval set fits in it).
``--repeat-questions`` cycles the eval questions as they are instead, and the JSON says it measured
cache hits. After D seconds no new request starts, the ones in flight finish (or time out), and the
script exits. Figures: throughput (completed requests / s), latency p50/p95/p99 of successful requests,
errors (non-2xx, bodies without an answer, exceptions such as timeouts) by cause, and, with --start,
the server's peak RSS. The load generator runs on the same machine and takes CPU from the server: its
own CPU time is reported beside the figures. ``--compare A B`` starts each side's server in turn
(``--rounds`` times, alternating which goes first) and prints B / A ratios; see ``_sides.py``.

Only loopback addresses are accepted (127.0.0.1, localhost, ::1); proxies from the environment are
ignored and redirects are not followed, so no request can leave the machine. --start runs
``python -m citeqa serve`` on a free port with a private temporary CITEQA_CACHE_DIR / CITEQA_DATA_DIR
(the first start converts the model and builds the index: a minute or two on 2 cores), waits for
/healthz and stops it at the end. The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import emit, log, machine, peak_rss_mib, summarize_ms
from _stub import stub_server

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:7860", help="server base URL (loopback only)")
    p.add_argument("--start", action="store_true", help="start `python -m citeqa serve` on a free port")
    p.add_argument("--clients", type=int, help="concurrent clients (default 32; --quick 4)")
    p.add_argument("--duration", type=float, help="seconds of load (default 60; --quick 5)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    p.add_argument("--warmup", type=float, help="seconds of load before the clock starts (default 15; --quick 0)")
    p.add_argument("--quick", action="store_true", help="smoke run: 4 clients for 5 s")
    p.add_argument("--start-timeout", type=float, default=900.0, help="seconds to wait for /healthz")
    p.add_argument("--cache-dir", type=Path, help="CITEQA_CACHE_DIR for --start (default: temp)")
    p.add_argument("--data-dir", type=Path, help="CITEQA_DATA_DIR for --start (default: temp)")
    p.add_argument(
        "--repeat-questions", action="store_true",
        help="cycle the eval questions as they are (after one lap the server answers from its query cache)",
    )
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two sides, NAME=WHERE[,VAR=VALUE...] (_sides.py)")
    p.add_argument("--rounds", type=int, default=2, help="--compare: load runs per side, alternating (default 2)")
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)  # against an in-process stub
    args = p.parse_args(argv)
    args.clients = args.clients or (4 if args.quick else 32)
    args.duration = args.duration if args.duration is not None else (5.0 if args.quick else 60.0)
    args.warmup = args.warmup if args.warmup is not None else (0.0 if args.quick else 15.0)
    if args.clients < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--clients must be ≥ 1, --duration > 0 and --warmup ≥ 0")
    try:
        check_loopback(args.url)
    except ValueError as exc:
        p.error(str(exc))
    return args


def check_loopback(url: str) -> str:
    """Return the host of ``url`` if it is a loopback name that resolves only to loopback addresses.

    ``http://127.0.0.1:7860`` passes; ``http://10.0.0.5``, ``http://example.com`` or a ``localhost``
    that /etc/hosts maps elsewhere are refused.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"--url must be http(s)://, got {url!r}")
    if host not in LOOPBACK_NAMES:
        raise ValueError(f"--url host must be loopback ({', '.join(LOOPBACK_NAMES)}), got {host!r}")
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from exc
    bad = [a for a in addrs if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if bad:
        raise ValueError(f"{host!r} resolves to non-loopback addresses {bad}; refusing")
    return host


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_of(url: str) -> str:
    return url.rstrip("/")


def questions() -> list[str]:
    from citeqa.eval.dataset import load_eval_set

    return [q.question for q in load_eval_set()]


def question_stream(qs: list[str], unique: bool) -> Iterator[str]:
    """The eval questions in turn; with ``unique``, each with a serial number no cache has seen ("…？ 第17題")."""
    for n, q in enumerate(itertools.cycle(qs), start=1):
        yield f"{q} 第{n}題" if unique else q


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a running process has used (/proc/PID/stat, in clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# --- the server under test -------------------------------------------------------------------------


def vm_hwm_mib(pid: int) -> float | None:
    """Peak RSS of a running process (VmHWM), read before it is stopped."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


@contextmanager
def started_server(env: dict[str, str], start_timeout: float, info: dict[str, Any]) -> Iterator[str]:
    """Run ``python -m citeqa serve`` (in ``env``) on a free loopback port until the block ends; yield its URL."""
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="citeqa-bench-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "serve.log"
    cmd = [sys.executable, "-m", "citeqa", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning"]
    t0 = time.perf_counter()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp)
    try:
        deadline = t0 + start_timeout
        with httpx.Client(trust_env=False, timeout=5.0) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"citeqa serve exited {proc.returncode}: {tail(log_path)}")
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"citeqa serve not healthy after {start_timeout:.0f} s: {tail(log_path)}")
                time.sleep(0.5)
        info["server_start_s"] = round(time.perf_counter() - t0, 2)
        info["server_pid"] = proc.pid
        log(f"citeqa serve healthy on {url} after {info['server_start_s']} s (pid {proc.pid})")
        cpu0 = cpu_seconds(proc.pid)
        yield url
        cpu1 = cpu_seconds(proc.pid)
        info["server_cpu_s"] = round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None
        info["server_peak_rss_mib"] = vm_hwm_mib(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        info["server_exit_code"] = proc.returncode
        info["server_log_tail"] = tail(log_path, 800)
        shutil.rmtree(tmp, ignore_errors=True)


def private_env(args: argparse.Namespace, tmp: Path) -> dict[str, str]:
    """The caller's environment without CITEQA_* variables, with private (or the given) cache and data dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["CITEQA_CACHE_DIR"] = str(args.cache_dir or tmp / "cache")
    env["CITEQA_DATA_DIR"] = str(args.data_dir or tmp / "data")
    return env


def tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


# --- the load generator ----------------------------------------------------------------------------


async def load(
    url: str, qs: list[str], clients: int, duration: float, timeout: float, *, unique: bool = True,
    warmup: float = 0.0,
) -> dict[str, Any]:
    """``clients`` tasks, each sending one request at a time until ``duration`` has passed.

    ``warmup`` seconds of the same load come first, off the clock and with questions of their own
    ("…？ 暖身17"): a server's first seconds fill what it keeps of the documents (the terms of their
    sentences), and a run should say what a server that has been up a while does.
    """
    import httpx

    ask_url = f"{base_of(url)}/api/ask"
    cycle = question_stream(qs, unique)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        trust_env=False, follow_redirects=False, timeout=httpx.Timeout(timeout), limits=limits
    ) as client:
        for q in (f"{qs[0]} 暖身", f"{qs[1]} 暖身"):  # warm-up, outside the clock (first calls pay for lazy set-up)
            await client.post(ask_url, json={"question": q})
        if warmup > 0:
            await _warm_up(client, ask_url, qs, clients, warmup, timeout)
        start = time.perf_counter()
        deadline = start + duration
        last_done = start

        async def worker() -> None:
            nonlocal last_done
            while time.perf_counter() < deadline:
                q = next(cycle)
                t0 = time.perf_counter()
                try:
                    r = await client.post(ask_url, json={"question": q})
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    last_done = time.perf_counter()
                    continue
                dt = time.perf_counter() - t0
                last_done = time.perf_counter()
                statuses[r.status_code] += 1
                if not 200 <= r.status_code < 300:
                    errors[f"http_{r.status_code}"] += 1
                    continue
                try:
                    ok = "answer" in r.json()
                except ValueError:
                    ok = False
                if not ok:
                    errors["body_without_answer"] += 1
                    continue
                latencies.append(dt)

        # Bounded: a hung server cannot keep the script alive past duration + timeout (+ slack).
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), duration + timeout + 30)
    elapsed = last_done - start
    ok = len(latencies)
    return {
        "clients": clients,
        "warmup_s": warmup,
        "questions": "unique (never seen by the server)" if unique else "repeated eval questions (cache hits)",
        "duration_s": duration,
        "elapsed_s": round(elapsed, 3),
        "requests": ok + sum(errors.values()),
        "ok": ok,
        "errors": sum(errors.values()),
        "errors_by_cause": dict(errors),
        "status_codes": {str(k): v for k, v in sorted(statuses.items())},
        "throughput_rps": round(ok / elapsed, 2) if elapsed > 0 else 0.0,
        "latency": summarize_ms(latencies),
    }


async def _warm_up(client: Any, ask_url: str, qs: list[str], clients: int, seconds: float, timeout: float) -> None:
    """The same load for ``seconds``, with questions of its own; nothing is recorded."""
    import httpx

    stream = (f"{q} 暖身{n}" for n, q in enumerate(itertools.cycle(qs), start=1))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                await client.post(ask_url, json={"question": next(stream)})

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(clients))), seconds + timeout + 30)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        from _load_compare import compare

        return compare(args)
    result: dict[str, Any] = {"benchmark": "load", "quick": args.quick, "machine_start": machine()}
    info: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="citeqa-bench-load-dirs-"))
    try:
        if args.self_test:
            ctx = stub_server(info)
        elif args.start:
            ctx = started_server(private_env(args, tmp), args.start_timeout, info)
        else:
            ctx = _given(args.url)
        result.update(run_load(args, ctx, info))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.start:
        result["server_peak_rss_children_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    result["client_peak_rss_mib"] = peak_rss_mib()
    result["machine_end"] = machine()
    emit(result)
    return 0


def run_load(args: argparse.Namespace, ctx: Any, info: dict[str, Any]) -> dict[str, Any]:
    """One load run against the server ``ctx`` yields; its figures, the server's and the client's CPU time."""
    result: dict[str, Any] = {}
    cpu0 = time.process_time()
    with ctx as url:
        result["url"] = url
        log(f"load: {args.clients} clients for {args.duration:g} s against {url}/api/ask")
        if args.warmup:
            log(f"warm-up: {args.warmup:g} s of the same load, not counted")
        figures = load(
            url, questions(), args.clients, args.duration, args.timeout, unique=not args.repeat_questions,
            warmup=args.warmup,
        )
        result.update(asyncio.run(figures))
        result["machine_during"] = machine()
    result["client_cpu_s"] = round(time.process_time() - cpu0, 2)
    result.update(info)
    if result.get("server_cpu_s") and result["ok"]:
        result["server_cpu_ms_per_request"] = round(result["server_cpu_s"] / result["ok"] * 1000, 2)
    lat = result["latency"]
    log(
        f"{result['ok']} ok, {result['errors']} errors {result['errors_by_cause'] or ''} "
        f"in {result['elapsed_s']} s: {result['throughput_rps']} req/s, p50 {lat['p50_ms']} ms, "
        f"p99 {lat['p99_ms']} ms (client CPU {result['client_cpu_s']} s, load {result['machine_during']['loadavg']})"
    )
    return result


@contextmanager
def _given(url: str) -> Iterator[str]:
    import httpx

    try:
        r = httpx.get(f"{base_of(url)}/healthz", timeout=5.0, trust_env=False, follow_redirects=False)
    except httpx.HTTPError as exc:
        why = type(exc).__name__
        raise SystemExit(f"bench_load: no server at {url} ({why}); start one or pass --start") from exc
    if r.status_code != 200:
        raise SystemExit(f"bench_load: {url}/healthz answered {r.status_code}")
    yield url


if __name__ == "__main__":
    sys.exit(main())
