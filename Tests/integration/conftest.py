"""Reusable fixtures for black-box tests of the real `sluice` binary.

- `proto_modules` (session): generates Python stubs from proto/ into Tests/integration/_gen/ (git-ignored)
  with grpc_tools, once per session, and returns a namespace with the modules (`inference_pb2`,
  `inference_pb2_grpc`, `health_pb2`, `health_pb2_grpc`).
- `sluice_server` (function): a factory. `sluice_server("--threads", "2", tls=False, max_open_files=None)` starts
  `$SLUICE_BIN serve --listen 127.0.0.1:0 ...` (plaintext unless tls=True, then with certs/dev), waits until it
  prints the port it serves on, and returns a `SluiceProcess`. At teardown every process still running is
  stopped with SIGTERM by its PID and must exit 0; one that died from a signal fails the test.
- `insecure_channel(port)`, `tls_channel(port)`: grpc channels (TLS verifies the server against certs/dev/ca.pem).
- `RawH2`: a raw HTTP/2 client on the `h2` package for requests grpcio cannot make (bad frames, floods,
  partial requests).
"""

import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import types

import grpc
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GEN = pathlib.Path(__file__).resolve().parent / "_gen"
CERTS = ROOT / "certs" / "dev"
PROTOS = ["sluice/v1/inference.proto", "grpc/health/v1/health.proto"]


def sluice_bin() -> str:
    path = os.environ.get("SLUICE_BIN", str(ROOT / ".build" / "release" / "sluice"))
    if not os.access(path, os.X_OK):
        pytest.exit(f"SLUICE_BIN={path} is not an executable; build with: swift build -c release --product sluice")
    return path


def _generate_stubs():
    from grpc_tools import protoc
    import importlib.resources

    GEN.mkdir(exist_ok=True)
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    for proto in PROTOS:
        rc = protoc.main(["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={GEN}",
                          f"--grpc_python_out={GEN}", proto])
        if rc != 0:
            raise RuntimeError(f"protoc failed for {proto}")


@pytest.fixture(scope="session")
def proto_modules():
    """Python modules generated from proto/ (once per session)."""
    _generate_stubs()
    if str(GEN) not in sys.path:
        sys.path.insert(0, str(GEN))
    # The health stubs live in package `grpc.health.v1`, but `grpc` is grpcio's own package: extend its
    # search path so `grpc.health` resolves to the generated code.
    if str(GEN / "grpc") not in grpc.__path__:
        grpc.__path__.append(str(GEN / "grpc"))
    import importlib

    modules = types.SimpleNamespace()
    modules.inference_pb2 = importlib.import_module("sluice.v1.inference_pb2")
    modules.inference_pb2_grpc = importlib.import_module("sluice.v1.inference_pb2_grpc")
    modules.health_pb2 = importlib.import_module("grpc.health.v1.health_pb2")
    modules.health_pb2_grpc = importlib.import_module("grpc.health.v1.health_pb2_grpc")
    return modules


@pytest.fixture(scope="session")
def dev_certs():
    """Runs certs/generate (idempotent) and returns the certs/dev path."""
    subprocess.run([str(ROOT / "certs" / "generate")], check=True, stdout=subprocess.DEVNULL)
    return CERTS


class SluiceProcess:
    """A running `sluice serve`; `port` is the port it bound."""

    def __init__(self, args, tls, max_open_files=None):
        self.args = args
        self.tls = tls

        def limit_files():
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=limit_files if max_open_files else None)
        self.lines = []
        self.port = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._stdout = []
        threading.Thread(target=lambda: self._stdout.extend(self.proc.stdout), daemon=True).start()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if "serving gRPC on" in line and self.port is None:
                self.port = int(line.split(" over ")[0].rsplit(":", 1)[1])
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout=20.0):
        if not self._ready.wait(timeout) or self.port is None:
            self.proc.kill()
            raise AssertionError(f"sluice did not start: {self.args}\n" + "\n".join(self.lines))
        return self

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    @property
    def output(self):
        return "\n".join(self.lines)

    def channel(self, **options):
        return tls_channel(self.port, **options) if self.tls else insecure_channel(self.port, **options)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sluice did not exit within %.0fs of SIGTERM\n%s" % (timeout, self.output))

    def cpu_seconds(self):
        """utime + stime of the server so far."""
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def assert_alive(self):
        assert self.proc.poll() is None, f"sluice exited with {self.proc.returncode}\n{self.output}"


@pytest.fixture
def sluice_server(dev_certs):
    """Factory: start `sluice serve` with extra args; checked and stopped at teardown."""
    started = []

    def start(*extra, tls=False, listen="127.0.0.1:0", wait=True, max_open_files=None):
        args = [sluice_bin(), "serve", "--listen", listen]
        if tls:
            args += ["--tls-cert", str(dev_certs / "server.pem"), "--tls-key", str(dev_certs / "server-key.pem")]
        elif "--config" not in extra and "--tls-cert" not in extra:
            args.append("--plaintext")
        args += [str(a) for a in extra]
        # Serving models needs an explicit security choice; tests that are not about security opt out.
        if "--models" in args and "--security-config" not in args and "--config" not in args:
            args.append("--insecure-no-auth")
        server = SluiceProcess(args, tls, max_open_files)
        started.append(server)
        return server.wait_ready() if wait else server

    yield start
    for server in started:
        if server.proc.poll() is None:
            code = server.stop()
            assert code == 0, f"sluice exited with {code} after SIGTERM\n{server.output}"
        else:
            assert server.proc.returncode >= 0, (
                f"sluice died from signal {-server.proc.returncode}\n{server.output}")


def insecure_channel(port, **options):
    opts = [("grpc.use_local_subchannel_pool", 1)] + list(options.items())
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=opts)


def tls_channel(port, **options):
    creds = grpc.ssl_channel_credentials(root_certificates=(CERTS / "ca.pem").read_bytes())
    opts = [("grpc.use_local_subchannel_pool", 1)] + list(options.items())
    return grpc.secure_channel(f"127.0.0.1:{port}", creds, options=opts)


def grpc_frame(payload: bytes, compressed: bool = False) -> bytes:
    return bytes([1 if compressed else 0]) + len(payload).to_bytes(4, "big") + payload


class RawH2:
    """A raw HTTP/2 client connection (h2c or TLS) driven by the `h2` state machine, with raw-byte escapes."""

    def __init__(self, port, tls=False, validate=True):
        import h2.config
        import h2.connection

        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            ctx = ssl.create_default_context(cafile=str(CERTS / "ca.pem"))
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                           validate_outbound_headers=validate,
                                           normalize_outbound_headers=validate,
                                           validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.events = []
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def request_headers(self, path, extra=(), content_type="application/grpc"):
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                   ("content-type", content_type), ("te", "trailers")]
        return headers + list(extra)

    def start_call(self, path, extra=(), end_stream=False, content_type="application/grpc"):
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream, self.request_headers(path, extra, content_type), end_stream=end_stream)
        self.flush()
        return stream

    def send_message(self, stream, payload: bytes, end_stream=True, compressed=False):
        self.conn.send_data(stream, grpc_frame(payload, compressed), end_stream=end_stream)
        self.flush()

    def pump(self, timeout=2.0, until=None):
        """Reads and processes frames until `until(events)` is true, the timeout passes, or the peer closes."""
        import h2.exceptions

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if until is not None and until(self.events):
                return True
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            try:
                self.events.extend(self.conn.receive_data(data))
            except h2.exceptions.ProtocolError:
                pass
            try:
                self.flush()
            except OSError:
                self.closed = True
                break
        return until(self.events) if until else False

    def response(self, stream, timeout=3.0):
        """(headers dict, data bytes, trailers dict, ended) for a stream, after pumping until it ends."""
        import h2.events

        def ended(events):
            return any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == stream
                       for e in events)

        self.pump(timeout, until=ended)
        headers, trailers, data = None, {}, b""
        for e in self.events:
            if getattr(e, "stream_id", None) != stream:
                continue
            if isinstance(e, h2.events.ResponseReceived):
                headers = dict(e.headers)
            elif isinstance(e, h2.events.TrailersReceived):
                trailers = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                data += e.data
                self.conn.acknowledge_received_data(e.flow_controlled_length, stream)
        return headers, data, trailers, ended(self.events)

    def goaway(self):
        import h2.events

        return next((e for e in self.events if isinstance(e, h2.events.ConnectionTerminated)), None)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- raw frame escape hatch (for when the h2 state machine would refuse to go on) ----

    def raw_frame(self, kind, flags, stream, payload=b""):
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    def read_frames(self, timeout=2.0, until=None):
        """Reads raw frames (type, flags, stream, payload) without the h2 state machine, until `until(frames)`."""
        frames, buffer = [], getattr(self, "_raw_buffer", b"")
        end = time.monotonic() + timeout
        while time.monotonic() < end and not (until and until(frames)):
            while len(buffer) >= 9:
                length = int.from_bytes(buffer[0:3], "big")
                if len(buffer) < 9 + length:
                    break
                frames.append((buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF,
                               buffer[9:9 + length]))
                buffer = buffer[9 + length:]
            if until and until(frames):
                break
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except OSError:
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            buffer += data
        self._raw_buffer = buffer
        return frames

    def decode_block(self, payload):
        """Decodes a HEADERS payload (no padding/priority) with the connection's HPACK decoder."""
        return dict(self.conn.decoder.decode(payload, raw=False))
