#!/usr/bin/env python3
"""How much a big BatchPredict delays a 1-row Predict on the same event loop (issue 15: heavy work off the loop).

Starts `sluice serve --threads 1` on the example churn forest, once with large calls offloaded to worker threads
(the default, mode `offload`) and once with `--offload-min-bytes 0` (everything on the loop, mode `loop`). In each
run a separate *process* sends 100,000-row BatchPredicts back to back on its own connection while this process
sends 2,000 1-row Predicts one after the other on another; the Predict latencies (client-side, grpcio) are reported
as median, p99 and max, with the batches' own latency. The batch client is a separate process so that its protobuf
work on 2 MB messages cannot hold this process's GIL and show up as Predict latency.

Server-side evidence, per server thread (loop, worker), over the Predict window:
- always: the kernel's schedstat (`/proc/PID/task/TID/schedstat`): CPU time, time spent runnable but waiting for
  a CPU, and the number of times the thread ran, as deltas;
- with `--perf`: `perf sched record` (system-wide) during the window and `perf sched timehist`: per thread of the
  server and of both clients (those with at least 0.5 ms), the longest wait between becoming runnable and running
  ("sch delay") and the longest uninterrupted run (needs `perf`, apt package `linux-perf`, and root or
  perf_event_paranoid <= 1); and a syscall trace of the loop thread: the duration of each loop turn (from
  `epoll_wait` returning to the next `epoll_wait`), p50, p99 and max.

Several binaries (`--bin A --bin B`, each optionally followed by extra `serve` arguments inside the quotes:
`--bin "B --worker-priority idle"`) are measured interleaved, round by round, so that a before/after comparison
shares one sitting. `--server-cpu 0 --client-cpu 1` pins the server and the clients to different CPUs (taskset);
`--batch-client-idle` runs the batch client under SCHED_IDLE, so that the two clients sharing a CPU do not turn
the batch client's 2 MB protobuf encoding into Predict latency (on 2 cores the clients must share one).

Usage: bench/loop_isolation.py [--calls 2000] [--rows 100000] [--rounds 2] [--modes offload,loop]
                               [--bin PATH ...] [--server-cpu N] [--client-cpu N] [--batch-client-idle]
                               [--predict-client grpcio|h2load] [--perf]
       (default binary: SLUICE_BIN or .build/release/sluice)
"""
import argparse
import multiprocessing
import os
import pathlib
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "integration"))

from conftest import SluiceProcess, proto_modules  # noqa: E402
from modelfixtures import Fixture, feature_value, register, wait_serving  # noqa: E402

MODEL = ROOT / "Tests" / "fixtures" / "models" / "spark_churn_rf"
NAMES = ["age", "income", "tenure_months", "credit_score"]
BIG = {"grpc.max_send_message_length": 64 << 20, "grpc.max_receive_message_length": 64 << 20}


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def batch_load(port, rows, cpu, idle, started, stop, results):
    """Runs in its own process: BatchPredicts of `rows` rows back to back on one connection until `stop`. With
    `idle`, the process runs under SCHED_IDLE, so that on a shared CPU it never delays the Predict client."""
    pin(cpu)
    if idle:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    import grpc

    modules = proto_modules.__wrapped__()
    pb, pb_grpc = modules.inference_pb2, modules.inference_pb2_grpc
    fixture = Fixture(MODEL)
    base = [fixture.row(r)[n] for r in range(fixture.rows) for n in NAMES]
    batch = pb.BatchPredictRequest(model="churn", dense=(base * (rows // fixture.rows + 1))[:rows * 4])
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=list(BIG.items()))
    stub = pb_grpc.InferenceStub(channel)
    latency = []
    while not stop.is_set():
        begin = time.perf_counter()
        stub.BatchPredict(batch, timeout=120)
        latency.append(time.perf_counter() - begin)
        started.set()
    channel.close()
    results.put(latency)


def schedstat(pid):
    """{thread name: (cpu ns, run-queue wait ns, timeslices)} summed over the server's threads of that name."""
    totals = {}
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            cpu, wait, slices = (int(v) for v in (task / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        if task.name == str(pid):
            name = "main"
        old = totals.get(name, (0, 0, 0))
        totals[name] = (old[0] + cpu, old[1] + wait, old[2] + slices)
    return totals


def perf_timehist(data, processes):
    """From `perf sched timehist`: per thread name of the given processes ({pid: label}), the longest wait between
    becoming runnable and running ("sch delay") and the longest uninterrupted run, in ms."""
    out = subprocess.run(["perf", "sched", "timehist", "-i", data], capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        match = re.match(r"\s*[\d.]+\s+\[\d+\]\s+(.+?)\[(\d+)(?:/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
        if not match:
            continue
        pid = int(match.group(3) or match.group(2))
        if pid not in processes:
            continue
        name = processes[pid] + ":" + match.group(1).strip()
        delay, ran = float(match.group(5)), float(match.group(6))
        old = rows.get(name, (0.0, 0.0))
        rows[name] = (max(old[0], delay), max(old[1], ran))
    return rows


def loop_thread(pid):
    """The TID of the server's (single) event-loop thread: `sluice-loop-0`, or in binaries that do not name their
    loops, the one thread other than the main thread still called `sluice`."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = {}
        for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
            try:
                names[int(task.name)] = (task / "comm").read_text().strip()
            except OSError:
                continue
        named = [tid for tid, name in names.items() if name == "sluice-loop-0"]
        unnamed = [tid for tid, name in names.items() if name == "sluice" and tid != pid]
        if named or len(unnamed) == 1:
            return (named or unnamed)[0]
        time.sleep(0.05)
    raise RuntimeError(f"no event-loop thread found in {pid}")


def loop_turns(data):
    """Loop turns from a syscall trace of the loop thread: the time from one `epoll_wait` returning to the next
    being entered (the work of one iteration, plus any time the thread was preempted meanwhile), in ms, sorted."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "time,event,trace"], capture_output=True,
                         text=True).stdout
    turns = []
    returned = None
    for line in out.splitlines():
        match = re.match(r"\s*([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)", line)
        if not match or match.group(3) not in ("232", "281"):  # epoll_wait, epoll_pwait (x86-64)
            continue
        when = float(match.group(1))
        if match.group(2) == "exit":
            returned = when
        elif returned is not None:
            turns.append(1e3 * (when - returned))
            returned = None
    return sorted(turns)


def h2load_predicts(port, request, options, tmp):
    """The 1-row Predicts from h2load (C, one connection, one stream at a time): per-call latency in seconds from
    its `--log-file`. h2load has no Python runtime or gRPC library threads of its own to schedule, so on a shared
    CPU its latencies are mostly the server's. Fails unless every call got HTTP 200 (grpc-status is checked by the
    grpcio calls made before)."""
    body = os.path.join(tmp, "predict.bin")
    payload = request.SerializeToString()
    with open(body, "wb") as f:
        f.write(b"\0" + len(payload).to_bytes(4, "big") + payload)
    log = os.path.join(tmp, "h2load.log")
    command = ["h2load", "-n", str(options.calls), "-c", "1", "-m", "1", "-d", body, "--log-file", log,
               "-H", "content-type: application/grpc", "-H", "te: trailers",
               f"http://127.0.0.1:{port}/sluice.v1.Inference/Predict"]
    if options.client_cpu is not None:
        command = ["taskset", "-c", str(options.client_cpu)] + command
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    latency = []
    with open(log) as f:
        for line in f:
            _, status, duration_us = line.split()[:3]
            if status != "200":
                raise RuntimeError(f"h2load: a Predict answered HTTP {status}")
            latency.append(int(duration_us) / 1e6)
    if len(latency) != options.calls:
        raise RuntimeError(f"h2load completed {len(latency)} of {options.calls} Predicts")
    return latency


def run(variant, offload, options, modules):
    binary, *extra = shlex.split(variant)
    pb, pb_grpc = modules.inference_pb2, modules.inference_pb2_grpc
    with tempfile.TemporaryDirectory() as tmp:
        registry = pathlib.Path(tmp) / "registry"
        register(binary, registry, "churn", MODEL / "model.onnx")
        args = [binary, "serve", "--plaintext", "--listen", "127.0.0.1:0", "--threads", "1", "--models",
                str(registry), "--insecure-no-auth", "--max-message-bytes", str(64 << 20)]
        if not offload:
            args += ["--offload-min-bytes", "0"]
        args += extra
        if options.server_cpu is not None:
            args = ["taskset", "-c", str(options.server_cpu)] + args  # taskset execs: same PID
        server = SluiceProcess(args, False).wait_ready()
        context = multiprocessing.get_context("spawn")
        started, stop, results = context.Event(), context.Event(), context.Queue()
        loader = None
        perf = []
        try:
            wait_serving(server, modules)
            fixture = Fixture(MODEL)
            stub = pb_grpc.InferenceStub(server.channel())
            small = pb.PredictRequest(model="churn",
                                      features={k: feature_value(pb, v) for k, v in fixture.row(3).items()})
            for _ in range(200):
                stub.Predict(small)
            loader = context.Process(target=batch_load,
                                     args=(server.port, options.rows, options.client_cpu, options.batch_client_idle, started,
                                           stop, results))
            loader.start()
            if not started.wait(120):
                raise RuntimeError("the batch client finished no BatchPredict within 120 s")
            if options.perf:
                data = os.path.join(tmp, "perf.data")
                syscalls = os.path.join(tmp, "syscalls.data")
                perf.append(subprocess.Popen(["perf", "sched", "record", "-o", data], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL))
                perf.append(subprocess.Popen(
                    ["perf", "record", "-q", "-o", syscalls, "-e", "raw_syscalls:sys_enter,raw_syscalls:sys_exit",
                     "-t", str(loop_thread(server.proc.pid))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                time.sleep(1.0)  # perf's own start-up
            before = schedstat(server.proc.pid)
            if options.predict_client == "h2load":
                latency = h2load_predicts(server.port, small, options, tmp)
            else:
                latency = []
                for _ in range(options.calls):
                    begin = time.perf_counter()
                    stub.Predict(small)
                    latency.append(time.perf_counter() - begin)
            after = schedstat(server.proc.pid)
            sched, turns = {}, []
            if perf:
                for recorder in perf:
                    recorder.send_signal(2)
                for recorder in perf:
                    recorder.wait(60)
                perf = []
                sched = perf_timehist(data, {server.proc.pid: "server", os.getpid(): "predict client",
                                             loader.pid: "batch client"})
                turns = loop_turns(syscalls)
            stop.set()
            batch_latency = results.get(timeout=180)
            loader.join(60)
            latency.sort()
            threads = {}
            for name, (cpu, wait, slices) in after.items():
                old = before.get(name, (0, 0, 0))
                if slices - old[2] > 0:
                    threads[name] = ((cpu - old[0]) / 1e6, (wait - old[1]) / 1e6, slices - old[2])
            return {"p50_ms": 1e3 * statistics.median(latency), "p99_ms": 1e3 * latency[int(0.99 * len(latency))],
                    "max_ms": 1e3 * latency[-1], "batches": len(batch_latency),
                    "batch_ms": 1e3 * statistics.median(batch_latency) if batch_latency else 0,
                    "threads": threads, "perf": sched, "turns": turns}
        finally:
            for recorder in perf:
                recorder.kill()
                recorder.wait()
            stop.set()
            if loader is not None and loader.is_alive():
                loader.join(60)
                if loader.is_alive():
                    loader.kill()
            server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="offload,loop", help="comma-separated: offload, loop")
    parser.add_argument("--bin", action="append",
                        help="binary to measure, optionally with extra serve arguments "
                             "('PATH --worker-priority idle'); repeat to interleave several")
    parser.add_argument("--server-cpu", type=int, help="pin the server to this CPU (taskset)")
    parser.add_argument("--client-cpu", type=int, help="pin both client processes to this CPU")
    parser.add_argument("--predict-client", choices=["grpcio", "h2load"], default="grpcio",
                        help="who sends the 1-row Predicts: grpcio from this process (default) or h2load (C, "
                             "no client-side threads to schedule)")
    parser.add_argument("--batch-client-idle", action="store_true",
                        help="run the batch client under SCHED_IDLE: with --client-cpu, the Predict client then never "
                             "waits for the batch client's protobuf work, so what remains is the server's doing")
    parser.add_argument("--perf", action="store_true", help="also record scheduling latency with perf sched")
    options = parser.parse_args()
    if options.perf and not shutil.which("perf"):
        parser.error("--perf needs `perf` (apt-get install linux-perf)")
    binaries = options.bin or [os.environ.get("SLUICE_BIN", str(ROOT / ".build" / "release" / "sluice"))]
    modes = [m.strip() for m in options.modes.split(",") if m.strip()]
    pin(options.client_cpu)
    modules = proto_modules.__wrapped__()
    for round_ in range(1, options.rounds + 1):
        for binary in binaries:
            for mode in modes:
                r = run(binary, mode == "offload", options, modules)
                print(f"round {round_} {binary} {mode:7}: Predict p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} "
                      f"ms, max {r['max_ms']:.2f} ms over {options.calls} calls; {r['batches']} batches of "
                      f"{options.rows} rows, median {r['batch_ms']:.0f} ms", flush=True)
                for name, (cpu, wait, slices) in sorted(r["threads"].items()):
                    print(f"    server {name:16} cpu {cpu:8.1f} ms, run-queue wait {wait:7.1f} ms over {slices:6} runs "
                          f"(avg {1e3 * wait / slices:6.1f} us)", flush=True)
                turns = r["turns"]
                if turns:
                    print(f"    loop turns: {len(turns)}, p50 {turns[len(turns) // 2]:.3f} ms, p99 "
                          f"{turns[int(0.99 * len(turns))]:.3f} ms, max {turns[-1]:.3f} ms; longer than 0.5 ms: "
                          f"{sum(t > 0.5 for t in turns)}", flush=True)
                for name, (delay, ran) in sorted(r["perf"].items()):
                    if delay >= 0.5 or ran >= 0.5:
                        print(f"    perf {name:30} max sch delay {delay:7.3f} ms, max run {ran:7.3f} ms", flush=True)


if __name__ == "__main__":
    main()
