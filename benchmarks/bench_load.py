"""A bounded load test of a running ``citeqa serve``: N concurrent clients POST /api/ask for D seconds.

    .venv/bin/python benchmarks/bench_load.py --start          # a private server, 32 clients, 60 s
    .venv/bin/python benchmarks/bench_load.py --url http://127.0.0.1:7860 --clients 32 --duration 60
    .venv/bin/python benchmarks/bench_load.py --start --quick  # smoke run: 4 clients, 5 s

Each client sends one request at a time (so at most N are in flight), cycling through the bundled eval
questions; after D seconds no new request starts, the ones in flight finish (or time out), and the
script exits. Figures: throughput (completed requests / s), latency p50/p95/p99 of successful requests,
errors (non-2xx, bodies without an answer, exceptions such as timeouts) by cause, and, with --start,
the server's peak RSS. The load generator runs on the same machine and takes CPU from the server: its
own CPU time is reported beside the figures.

Only loopback addresses are accepted (127.0.0.1, localhost, ::1); proxies from the environment are
ignored and redirects are not followed, so no request can leave the machine. --start runs
``python -m citeqa serve`` on a free port with a private temporary CITEQA_CACHE_DIR / CITEQA_DATA_DIR
(the first start converts the model and builds the index: a minute or two on 2 cores), waits for
/healthz and stops it at the end. The last stdout line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import emit, log, machine, peak_rss_mib, summarize_ms

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:7860", help="server base URL (loopback only)")
    p.add_argument("--start", action="store_true", help="start `python -m citeqa serve` on a free port")
    p.add_argument("--clients", type=int, help="concurrent clients (default 32; --quick 4)")
    p.add_argument("--duration", type=float, help="seconds of load (default 60; --quick 5)")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout in seconds")
    p.add_argument("--quick", action="store_true", help="smoke run: 4 clients for 5 s")
    p.add_argument("--start-timeout", type=float, default=900.0, help="seconds to wait for /healthz")
    p.add_argument("--cache-dir", type=Path, help="CITEQA_CACHE_DIR for --start (default: temp)")
    p.add_argument("--data-dir", type=Path, help="CITEQA_DATA_DIR for --start (default: temp)")
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)  # against an in-process stub
    args = p.parse_args(argv)
    args.clients = args.clients or (4 if args.quick else 32)
    args.duration = args.duration if args.duration is not None else (5.0 if args.quick else 60.0)
    if args.clients < 1 or args.duration <= 0:
        p.error("--clients must be ≥ 1 and --duration > 0")
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
def started_server(args: argparse.Namespace, info: dict[str, Any]) -> Iterator[str]:
    """Run ``python -m citeqa serve`` on a free loopback port until the block ends; yield its URL."""
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="citeqa-bench-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env["CITEQA_CACHE_DIR"] = str(args.cache_dir or tmp / "cache")
    env["CITEQA_DATA_DIR"] = str(args.data_dir or tmp / "data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "serve.log"
    cmd = [sys.executable, "-m", "citeqa", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning"]
    t0 = time.perf_counter()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = t0 + args.start_timeout
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
                    waited = f"{args.start_timeout:.0f} s"
                    raise RuntimeError(f"citeqa serve not healthy after {waited}: {tail(log_path)}")
                time.sleep(0.5)
        info["server_start_s"] = round(time.perf_counter() - t0, 2)
        info["server_pid"] = proc.pid
        log(f"citeqa serve healthy on {url} after {info['server_start_s']} s (pid {proc.pid})")
        yield url
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


def tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@contextmanager
def stub_server(info: dict[str, Any]) -> Iterator[str]:
    """A tiny threaded HTTP server with /healthz and /api/ask, for testing the load generator itself."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, {"status": "ok", "passages": 0, "model": "stub"})
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != "/api/ask":
                self._reply(404, {"error": "not found"})
                return
            time.sleep(0.005)  # a little "work"
            answer = {"question": body.get("question"), "answer": "stub", "grounded": False, "citations": []}
            self._reply(200, answer)

        def log_message(self, *_: Any) -> None:
            return

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    info["stub"] = True
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- the load generator ----------------------------------------------------------------------------


async def load(url: str, qs: list[str], clients: int, duration: float, timeout: float) -> dict[str, Any]:
    """``clients`` tasks, each sending one request at a time until ``duration`` has passed."""
    import httpx

    ask_url = f"{base_of(url)}/api/ask"
    cycle = itertools.cycle(qs)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        trust_env=False, follow_redirects=False, timeout=httpx.Timeout(timeout), limits=limits
    ) as client:
        for q in qs[:2]:  # warm-up, outside the clock (first call pays for lazy initialisation)
            await client.post(ask_url, json={"question": q})
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result: dict[str, Any] = {"benchmark": "load", "quick": args.quick, "machine_start": machine()}
    info: dict[str, Any] = {}
    qs = questions()
    if args.self_test:
        ctx = stub_server(info)
    elif args.start:
        ctx = started_server(args, info)
    else:
        ctx = _given(args.url)
    cpu0 = time.process_time()
    with ctx as url:
        result["url"] = url
        log(f"load: {args.clients} clients for {args.duration:g} s against {url}/api/ask")
        result.update(asyncio.run(load(url, qs, args.clients, args.duration, args.timeout)))
        result["machine_during"] = machine()
    result["client_cpu_s"] = round(time.process_time() - cpu0, 2)
    result.update(info)
    result["client_peak_rss_mib"] = peak_rss_mib()
    if args.start:
        result["server_peak_rss_children_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    lat = result["latency"]
    log(
        f"{result['ok']} ok, {result['errors']} errors {result['errors_by_cause'] or ''} "
        f"in {result['elapsed_s']} s: "
        f"{result['throughput_rps']} req/s, p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
        f"(client CPU {result['client_cpu_s']} s)"
    )
    result["machine_end"] = machine()
    emit(result)
    return 0


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
