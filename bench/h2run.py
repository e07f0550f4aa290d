#!/usr/bin/env python3
"""Runs one h2load measurement against a server process and reports server-side cost.

Usage (as a module from other bench scripts, or standalone):
  h2run.py --pid PID --url http://127.0.0.1:PORT/pkg.Svc/Method --body FILE [--requests N]
           [--clients 8] [--streams 16] [--cpu 1] [--rate R] [--tls]

Prints one JSON object: requests/s, completed, failed, server CPU µs per request (utime+stime of PID
from /proc over the run), p50/p99 latency in µs (from h2load --log-file), server RSS (KiB, peak and now).
The load is bounded (--requests) and goes to the given loopback URL only.
"""
import argparse
import json
import os
import signal
import re
import statistics
import subprocess
import sys
import tempfile

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12] are utime, stime (14th and 15th of the full line).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


MEMORY_FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")


def memory_status(pid, fields=MEMORY_FIELDS):
    """The memory fields of /proc/PID/status (peak, resident, anonymous, file-backed), in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in fields:
                out[key] = int(line.split()[1])
    return out


def rss_kib(pid):
    """(VmHWM, VmRSS) of a process, in KiB."""
    status = memory_status(pid, ("VmHWM", "VmRSS"))
    return status.get("VmHWM", 0), status.get("VmRSS", 0)


def stop(proc, timeout=30):
    """Stops a process started by a benchmark: SIGTERM (the server drains), then SIGKILL after `timeout` s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port():
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    """Waits until something accepts on 127.0.0.1:port (fails if `proc` exits first)."""
    import socket
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def run(pid, url, body, requests=200000, clients=8, streams=16, cpu="1", rate=None, extra_headers=()):
    if not url.startswith("http://127.0.0.1") and not url.startswith("https://127.0.0.1"):
        raise SystemExit("h2run: only loopback URLs are allowed")
    with tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".log", delete=False) as log:
        log_path = log.name
    cmd = ["taskset", "-c", str(cpu), "h2load", "-n", str(requests), "-c", str(clients), "-m", str(streams),
           "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", "--log-file", log_path]
    for header in extra_headers:
        cmd += ["-H", header]
    if rate:
        # A fixed offered load: `rate` requests/s in total, split evenly over the clients.
        cmd += ["--rps", str(max(1, rate // clients))]
    cmd.append(url)
    before = cpu_seconds(pid)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    after = cpu_seconds(pid)
    peak, now = rss_kib(pid)
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    status = re.search(r"status codes: (\d+) 2xx", out)
    latencies = []
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "200":
                latencies.append(int(parts[2]))
    os.unlink(log_path)
    latencies.sort()
    completed = int(done.group(4)) if done else 0

    def pct(p):
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))]

    return {
        "requests_per_s": float(m.group(3)) if m else 0.0,
        "completed": completed,
        "failed": int(done.group(5)) + int(done.group(6)) if done else None,
        "status_2xx": int(status.group(1)) if status else None,
        "server_cpu_us_per_req": (after - before) * 1e6 / completed if completed else None,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "rss_peak_kib": peak,
        "rss_now_kib": now,
        "h2load_tail": out.strip().splitlines()[-12:] if not m else None,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--body", required=True)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--cpu", default="1")
    ap.add_argument("--rate", type=int)
    ap.add_argument("-H", dest="headers", action="append", default=[])
    a = ap.parse_args()
    print(json.dumps(run(a.pid, a.url, a.body, a.requests, a.clients, a.streams, a.cpu, a.rate, a.headers)))


if __name__ == "__main__":
    sys.exit(main())
