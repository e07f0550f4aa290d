"""Hostile clients: rapid reset, malformed frames, floods, oversized headers, slow readers. Afterwards a normal
client must still be served and the server must not have crashed."""

import socket
import struct
import time

import grpc

from conftest import RawH2, grpc_frame

HEALTH = "/grpc.health.v1.Health/Check"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def assert_still_serving(server, proto_modules):
    server.assert_alive()
    with server.channel() as channel:
        stub = proto_modules.health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(proto_modules.health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == proto_modules.health_pb2.HealthCheckResponse.SERVING


def test_rapid_reset_flood(sluice_server, proto_modules):
    """CVE-2023-44487: open and immediately cancel streams as fast as possible."""
    server = sluice_server("--threads", "1")
    for _ in range(3):
        client = RawH2(server.port)
        headers = client.request_headers(HEALTH)
        for _ in range(5000):
            stream = client.conn.get_next_available_stream_id()
            client.conn.send_headers(stream, headers)
            client.conn.reset_stream(stream, error_code=8)
            if stream % 200 == 1:
                try:
                    client.flush()
                except OSError:
                    break
        try:
            client.flush()
        except OSError:
            pass
        client.pump(1.0)
        # nghttp2's reset rate limit (burst 1000, then 33/s) trips: GOAWAY and the connection is closed.
        assert client.goaway() is not None or client.closed
        client.close()
    assert_still_serving(server, proto_modules)


def test_malformed_frames(sluice_server, proto_modules):
    server = sluice_server()
    attacks = [
        b"garbage that is not a preface" * 10,
        PREFACE + b"\xff" * 100,
        PREFACE + frame(4, 0, 0) + frame(1, 0x4, 0, b"\x82"),  # HEADERS on stream 0
        PREFACE + frame(4, 0, 0) + frame(0, 0x1, 1, b"data"),  # DATA on an idle stream
        PREFACE + frame(4, 0, 0) + frame(4, 0, 0, b"\x00\x04\xff\xff\xff\xff"),  # window > 2^31-1
        PREFACE + frame(4, 0, 0) + frame(1, 0x4, 1, b"\xff\xff\xff\xff\xff"),  # broken HPACK
        PREFACE + frame(4, 0, 0) + frame(8, 0, 0, b"\x00\x00\x00\x00"),  # zero WINDOW_UPDATE
        PREFACE + frame(4, 0, 0) + frame(6, 0, 0, b"\x00" * 3),  # PING of wrong size
        PREFACE + frame(4, 0, 0) + frame(0xEE, 0, 0, b"unknown type is ignored"),
        PREFACE + frame(4, 0, 0) + struct.pack(">I", 1 << 23)[1:] + b"\x00\x00\x00\x00\x00\x01",  # frame > max
        PREFACE + frame(4, 0, 0) + frame(1, 0x0, 1, b"\x82") + frame(9, 0, 3, b"\x82"),  # CONTINUATION mixup
    ]
    for attack in attacks:
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
            try:
                sock.sendall(attack)
                sock.settimeout(1.0)
                while sock.recv(65536):
                    pass
            except (socket.timeout, ConnectionResetError, BrokenPipeError):
                pass
    assert_still_serving(server, proto_modules)


def test_ping_and_settings_flood_without_reading(sluice_server, proto_modules):
    server = sluice_server()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        payload = PREFACE + frame(4, 0, 0)
        payload += (frame(6, 0, 0, b"12345678") + frame(4, 0, 0)) * 20000
        try:
            sock.sendall(payload)
        except (ConnectionResetError, BrokenPipeError, socket.timeout):
            pass
    assert_still_serving(server, proto_modules)


def test_oversized_header_list(sluice_server, proto_modules):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH, extra=[(f"x-big-{i}", "v" * 200) for i in range(100)])
    client.send_message(stream, b"")
    headers, _, _, ended = client.response(stream)
    assert ended
    assert headers["grpc-status"] == "8"
    assert "8192" in headers["grpc-message"]
    client.close()
    assert_still_serving(server, proto_modules)


def test_concurrent_stream_limit(sluice_server, proto_modules):
    """100 concurrent streams are served; a 101st is refused (RST_STREAM or GOAWAY), and the server lives."""
    server = sluice_server()
    for extra in (False, True):
        client = RawH2(server.port)
        client.pump(0.3)  # the server's SETTINGS (acknowledged by h2)
        assert client.conn.remote_settings.max_concurrent_streams == 100
        headers = client.request_headers(HEALTH)
        ids = list(range(1, 201, 2)) + ([201] if extra else [])
        for stream in ids:
            client.send_raw(client.raw_frame(1, 0x4, stream, client.conn.encoder.encode(headers)))
        if extra:
            frames = client.read_frames(2.0, until=lambda fs: any(f[0] in (3, 7) for f in fs))
            assert any((f[0] == 3 and f[2] == 201) or f[0] == 7 for f in frames), frames
        else:
            for stream in ids:
                client.send_raw(client.raw_frame(0, 0x1, stream, grpc_frame(b"")))
            frames = client.read_frames(5.0, until=lambda fs: sum(1 for f in fs if f[0] == 1 and f[1] & 1) >= 100)
            ended = {f[2] for f in frames if f[0] == 1 and f[1] & 1}
            assert ended == set(ids)
        client.close()
    assert_still_serving(server, proto_modules)


def test_slow_reader_is_bounded(sluice_server, proto_modules):
    """A client that sends many requests but never reads (and so never sees WINDOW_UPDATEs): the server must not
    queue answers without bound. It either stops reading from the client (bounded output buffer, backpressure) or,
    once the client overruns the flow-control window it could not see grow, closes the connection. Memory stays
    bounded either way and other clients are served."""
    import os

    server = sluice_server("--threads", "1")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    client = RawH2(server.port)
    client.sock.close()
    client.sock = sock
    client.conn.initiate_connection()
    client.flush()
    headers = client.request_headers(HEALTH)
    sock.settimeout(1.0)
    sent = 0
    try:
        for index in range(100_000):
            stream = 1 + 2 * index
            # A unique service name per call makes every answer a distinct, incompressible ~300-byte message.
            name = os.urandom(150).hex().encode()
            message = grpc_frame(b"\x0a\xac\x02" + name)
            block = client.conn.encoder.encode(headers)
            sock.sendall(frame(1, 0x4, stream, block) + frame(0, 0x1, stream, message))
            sent += 1
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    rss_kb = int(next(line.split()[1] for line in open(f"/proc/{server.proc.pid}/status")
                      if line.startswith("VmRSS")))
    assert sent < 100_000, "the server kept reading from a client that never reads"
    assert rss_kb < 200_000, f"server RSS grew to {rss_kb} kB"
    assert_still_serving(server, proto_modules)
    sock.close()


def h2_settings_initial_window():
    import h2.settings

    return h2.settings.SettingCodes.INITIAL_WINDOW_SIZE


def test_descriptor_exhaustion_does_not_spin(sluice_server, proto_modules):
    """With its open-file limit reached, the server backs off accepting instead of spinning on the listener, and
    serves again once descriptors are free."""
    server = sluice_server("--threads", "1", max_open_files=48)
    hogs = []
    try:
        for _ in range(80):
            hogs.append(socket.create_connection(("127.0.0.1", server.port), timeout=3))
        time.sleep(0.3)
        before = server.cpu_seconds()
        time.sleep(1.0)
        assert server.cpu_seconds() - before < 0.3, "server burns CPU while out of descriptors"
    finally:
        for sock in hogs:
            sock.close()
    time.sleep(0.5)
    assert_still_serving(server, proto_modules)


def test_connection_that_never_completes_the_preface_is_closed(sluice_server, proto_modules, tmp_path):
    config = tmp_path / "fast.json"
    config.write_text('{"plaintext": true, "handshakeTimeoutSeconds": 1}')
    server = sluice_server("--config", config)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(PREFACE[:10])  # half a preface, then silence
        started = time.monotonic()
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 3.5
    assert_still_serving(server, proto_modules)


def test_stalled_request_body_is_ended(sluice_server, tmp_path):
    from conftest import RawH2

    config = tmp_path / "stall.json"
    config.write_text('{"plaintext": true, "requestBodyTimeoutSeconds": 1}')
    server = sluice_server("--config", config)
    client = RawH2(server.port)
    stream = client.start_call(HEALTH)  # headers, then no body and no grpc-timeout
    headers, _, _, ended = client.response(stream, timeout=4)
    assert ended and headers["grpc-status"] == "4"
    assert "request body" in headers["grpc-message"]
    client.close()
