"""Protocol details checked with a raw HTTP/2 client: Trailers-Only shape, deadlines, encodings, content types,
graceful shutdown with a call half-sent."""

import gzip
import signal
import time

import h2.events

from conftest import RawH2, grpc_frame

HEALTH = "/grpc.health.v1.Health/Check"


def test_unknown_method_is_trailers_only(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call("/no.such.Service/Do")
    client.send_message(stream, b"")
    headers, data, trailers, ended = client.response(stream)
    assert ended
    # Trailers-Only: one HEADERS frame carries status, content type and the gRPC status.
    assert headers[":status"] == "200"
    assert headers["content-type"] == "application/grpc"
    assert headers["grpc-status"] == "12"
    assert headers["grpc-message"] == "unknown service 'no.such.Service'"
    assert data == b"" and trailers == {}
    client.close()


def test_ok_response_has_headers_message_trailers(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH)
    client.send_message(stream, b"")
    headers, data, trailers, ended = client.response(stream)
    assert ended
    assert headers == {":status": "200", "content-type": "application/grpc"}
    assert data == grpc_frame(b"\x08\x01")  # HealthCheckResponse{status: SERVING}
    assert trailers == {"grpc-status": "0"}
    client.close()


def test_grpc_message_is_percent_encoded(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH)
    client.send_message(stream, b"\x0a\x07caf\xc3\xa9 %")  # service = "café %"
    headers, _, _, _ = client.response(stream)
    assert headers["grpc-status"] == "5"
    assert headers["grpc-message"] == "unknown service 'caf%C3%A9 %25'"
    client.close()


def test_deadline_exceeded_while_waiting_for_the_request(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    started = time.monotonic()
    stream = client.start_call(HEALTH, extra=[("grpc-timeout", "200m")])
    headers, _, _, ended = client.response(stream, timeout=3)
    elapsed = time.monotonic() - started
    assert ended
    assert headers["grpc-status"] == "4", headers
    assert 0.15 <= elapsed < 2.0
    client.close()


def test_malformed_grpc_timeout(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH, extra=[("grpc-timeout", "12x")])
    client.send_message(stream, b"")
    headers, _, _, _ = client.response(stream)
    assert headers["grpc-status"] == "13"
    assert "grpc-timeout" in headers["grpc-message"]
    client.close()


def test_unsupported_encoding_lists_accepted_ones(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH, extra=[("grpc-encoding", "br")])
    client.send_message(stream, b"x", compressed=True)
    headers, _, _, _ = client.response(stream)
    assert headers["grpc-status"] == "12"
    assert "gzip" in headers["grpc-accept-encoding"]
    client.close()


def test_gzip_message_and_compressed_flag_without_encoding(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH, extra=[("grpc-encoding", "gzip")])
    client.send_message(stream, gzip.compress(b"\x0a\x15grpc.health.v1.Health"), compressed=True)
    headers, data, trailers, _ = client.response(stream)
    assert trailers.get("grpc-status") == "0", (headers, trailers)
    assert data == grpc_frame(b"\x08\x01")
    stream = client.start_call(HEALTH)
    client.send_message(stream, b"\x0a\x00", compressed=True)
    headers, _, _, _ = client.response(stream)
    assert headers["grpc-status"] == "13"
    assert "grpc-encoding" in headers["grpc-message"]
    # A gzip bomb larger than the limit after inflation is refused, not inflated into memory.
    stream = client.start_call(HEALTH, extra=[("grpc-encoding", "gzip")])
    client.send_message(stream, gzip.compress(b"\x0a\x80\x80\x80\x03" + b"a" * (6 << 20)), compressed=True)
    headers, _, _, _ = client.response(stream, timeout=5)
    assert headers["grpc-status"] == "8", headers
    client.close()


def test_non_grpc_content_type_gets_415(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH, content_type="application/json")
    client.send_message(stream, b"{}")
    headers, _, _, ended = client.response(stream)
    assert ended
    assert headers[":status"] == "415"
    client.close()


def test_two_messages_and_truncated_message_are_internal(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH)
    client.conn.send_data(stream, grpc_frame(b"") + grpc_frame(b""), end_stream=True)
    client.flush()
    headers, _, _, _ = client.response(stream)
    assert headers["grpc-status"] == "13" and "exactly one" in headers["grpc-message"]
    stream = client.start_call(HEALTH)
    client.conn.send_data(stream, b"\x00\x00\x00\x00\x09abc", end_stream=True)
    client.flush()
    headers, _, _, _ = client.response(stream)
    assert headers["grpc-status"] == "13" and "ended inside" in headers["grpc-message"]
    client.close()


def test_custom_metadata_does_not_disturb_a_call(sluice_server):
    server = sluice_server()
    client = RawH2(server.port)
    stream = client.start_call(HEALTH, extra=[("authorization", "Bearer abc"), ("x-api-key", "k"),
                                              ("x-request-id", "r-1"), ("trace-bin", "AAEC")])
    client.send_message(stream, b"")
    _, _, trailers, _ = client.response(stream)
    assert trailers == {"grpc-status": "0"}
    client.close()


def test_graceful_shutdown_finishes_half_sent_call(sluice_server):
    server = sluice_server("--drain-timeout", "10")
    client = RawH2(server.port)
    stream = client.start_call(HEALTH)  # headers only: the call is in flight
    client.pump(0.2)
    server.signal(signal.SIGTERM)
    # GOAWAY arrives first (the h2 state machine then refuses to send, so go on with raw frames).
    assert client.pump(2.0, until=lambda events: any(isinstance(e, h2.events.ConnectionTerminated)
                                                    for e in events))
    time.sleep(0.3)
    assert server.proc.poll() is None, "server exited while a call was in flight"
    client.send_raw(client.raw_frame(0, 0x1, stream, grpc_frame(b"")))
    frames = client.read_frames(3.0, until=lambda fs: any(f[0] == 1 and f[1] & 0x1 and f[2] == stream for f in fs))
    mine = [f for f in frames if f[2] == stream]
    kinds = [f[0] for f in mine]
    assert kinds == [1, 0, 1], frames  # HEADERS, DATA, HEADERS(trailers)
    assert client.decode_block(mine[0][3])[":status"] == "200"
    assert mine[1][3] == grpc_frame(b"\x08\x02")  # health says NOT_SERVING while draining
    assert client.decode_block(mine[2][3]) == {"grpc-status": "0"}
    assert mine[2][1] & 0x1  # END_STREAM
    assert server.proc.wait(10) == 0
    client.close()


def test_drain_timeout_cuts_stuck_calls_and_exits_zero(sluice_server):
    server = sluice_server("--drain-timeout", "0.5")
    client = RawH2(server.port)
    client.start_call(HEALTH)  # never completed
    client.pump(0.2)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    client.close()


def test_idle_connection_is_closed(sluice_server):
    server = sluice_server("--idle-timeout", "1")
    client = RawH2(server.port)
    assert client.pump(4.0, until=lambda events: any(isinstance(e, h2.events.ConnectionTerminated)
                                                    for e in events))
    client.close()


def test_tls_requires_alpn_h2(sluice_server, dev_certs):
    import socket
    import ssl

    server = sluice_server(tls=True)
    ctx = ssl.create_default_context(cafile=str(dev_certs / "ca.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert tls.recv(100) == b""
                raise AssertionError("handshake without h2 succeeded")
        except (ssl.SSLError, ConnectionResetError):
            pass
    client = RawH2(server.port, tls=True)
    stream = client.start_call(HEALTH)
    client.send_message(stream, b"")
    _, _, trailers, _ = client.response(stream)
    assert trailers == {"grpc-status": "0"}
    client.close()
