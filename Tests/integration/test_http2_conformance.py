"""HTTP/2 conformance cases that h2spec runs against a server, written as raw-frame tests (h2spec itself is a Go
program that Debian does not package; `bench/h2spec.sh` runs the whole suite where it can be built).

Each test mirrors one h2spec case, sent to `/grpc.health.v1.Health/Check` the way h2spec sends it: a plain `GET`
with no content type. The server answers such a request with HTTP 405 and a short text body (and a POST with a
wrong content type with 415), so the flow-control cases have a body to count.
"""
import socket
import time

import pytest

hpack = pytest.importorskip("hpack")

PATH = "/grpc.health.v1.Health/Check"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 2, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS = 0x4, 0x3
PROTOCOL_ERROR, REFUSED_STREAM = 0x1, 0x7


class RawConnection:
    """An HTTP/2 client that writes frames byte by byte, as h2spec does, and reads raw frames back."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.encoder = hpack.Encoder()
        self.buffer = b""
        self.server_settings = {}

    def send(self, kind, flags, stream, payload=b""):
        self.sock.sendall(len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload)

    def settings(self, *pairs):
        self.send(SETTINGS, 0, 0, b"".join(k.to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in pairs))

    def handshake(self):
        """Preface and SETTINGS both ways, as h2spec's `Handshake`: returns once the server's SETTINGS arrived."""
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.settings()
        frame = self.wait(lambda f: f[0] == SETTINGS and not f[1] & ACK)
        assert frame is not None, "no SETTINGS from the server"
        payload = frame[3]
        for i in range(0, len(payload), 6):
            self.server_settings[int.from_bytes(payload[i:i + 2], "big")] = int.from_bytes(payload[i + 2:i + 6], "big")
        self.send(SETTINGS, ACK, 0)

    def request(self, stream, method="GET", extra=()):
        headers = [(":method", method), (":scheme", "http"), (":path", PATH), (":authority", "127.0.0.1")]
        block = self.encoder.encode(headers + list(extra))
        self.send(HEADERS, END_STREAM | END_HEADERS, stream, block)

    def frames(self, timeout):
        """Yields raw frames (type, flags, stream, payload) until `timeout` seconds pass or the peer closes."""
        end = time.monotonic() + timeout
        while True:
            while len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) < 9 + length:
                    break
                frame = (self.buffer[3], self.buffer[4], int.from_bytes(self.buffer[5:9], "big") & 0x7FFFFFFF,
                         self.buffer[9:9 + length])
                self.buffer = self.buffer[9 + length:]
                yield frame
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError, OSError):
                return
            if not data:
                return
            self.buffer += data

    def wait(self, predicate, timeout=3.0):
        """The first frame matching `predicate` (answering the server's SETTINGS and PINGs on the way), or None."""
        for frame in self.frames(timeout):
            if frame[0] == SETTINGS and not frame[1] & ACK and self.server_settings:
                self.send(SETTINGS, ACK, 0)
            if predicate(frame):
                return frame
        return None

    def close(self):
        self.sock.close()


@pytest.fixture
def conn(sluice_server):
    server = sluice_server()
    connection = RawConnection(server.port)
    yield connection
    connection.close()


def data_on(stream):
    return lambda f: f[0] == DATA and f[2] == stream


def test_plain_get_gets_405_with_a_text_body(sluice_server):
    from conftest import RawH2

    client = RawH2(sluice_server().port)
    stream = client.conn.get_next_available_stream_id()
    client.conn.send_headers(stream, [(":method", "GET"), (":scheme", "http"), (":path", PATH),
                                      (":authority", "localhost")], end_stream=True)
    client.flush()
    headers, body, trailers, ended = client.response(stream)
    assert ended and headers[":status"] == "405" and headers["allow"] == "POST"
    assert headers["content-type"].startswith("text/plain")
    assert b"application/grpc" in body and trailers == {}
    client.close()


def test_json_post_is_answered_415_after_its_body_ends(sluice_server):
    from conftest import RawH2

    client = RawH2(sluice_server().port)
    stream = client.start_call(PATH, content_type="application/json")
    client.conn.send_data(stream, b'{"service": ""}', end_stream=False)
    client.flush()
    headers, _, _, ended = client.response(stream, timeout=0.5)
    assert headers is None and not ended, "answered before the request ended"
    client.conn.send_data(stream, b"", end_stream=True)
    client.flush()
    headers, body, trailers, ended = client.response(stream)
    assert ended and headers[":status"] == "415" and "grpc-status" not in headers and trailers == {}
    assert b"content-type application/grpc" in body
    # The connection stays usable for gRPC.
    stream = client.start_call(PATH)
    client.send_message(stream, b"")
    headers, _, trailers, _ = client.response(stream)
    assert headers[":status"] == "200" and trailers.get("grpc-status") == "0"
    client.close()


def test_generic_2_2_window_update_on_half_closed_remote_stream(conn):
    """h2spec generic/2.2: WINDOW_UPDATE on a half-closed (remote) stream is accepted; the answer follows."""
    conn.handshake()
    conn.settings((INITIAL_WINDOW_SIZE, 0))
    conn.request(1)
    conn.send(WINDOW_UPDATE, 0, 1, (1).to_bytes(4, "big"))
    assert conn.wait(data_on(1)) is not None


def test_generic_2_3_priority_on_half_closed_remote_stream(conn):
    """h2spec generic/2.3: PRIORITY on a half-closed (remote) stream is accepted."""
    conn.handshake()
    conn.settings((INITIAL_WINDOW_SIZE, 0))
    conn.request(1)
    conn.send(PRIORITY, 0, 1, (0).to_bytes(4, "big") + bytes([255]))
    conn.send(WINDOW_UPDATE, 0, 1, (1).to_bytes(4, "big"))
    assert conn.wait(data_on(1)) is not None


def test_http2_5_1_2_1_concurrent_stream_limit(conn):
    """h2spec http2/5.1.2/1: one HEADERS past SETTINGS_MAX_CONCURRENT_STREAMS is refused: RST_STREAM, or (as h2spec
    also accepts, and libnghttp2 does once the client acknowledged the limit) GOAWAY, with PROTOCOL_ERROR or
    REFUSED_STREAM."""
    conn.handshake()
    limit = conn.server_settings.get(MAX_CONCURRENT_STREAMS)
    assert limit, "the server must advertise SETTINGS_MAX_CONCURRENT_STREAMS"
    conn.settings((INITIAL_WINDOW_SIZE, 0))  # answers cannot finish, so the streams stay open
    for i in range(limit + 1):
        conn.request(1 + 2 * i)
    reset = conn.wait(lambda f: f[0] == RST_STREAM or f[0] == GOAWAY)
    assert reset is not None, "the stream limit was never reached: streams closed before the client finished"
    code = reset[3][:4] if reset[0] == RST_STREAM else reset[3][4:8]
    assert int.from_bytes(code, "big") in (PROTOCOL_ERROR, REFUSED_STREAM), reset


def test_http2_6_5_3_1_settings_values_processed_in_order(conn):
    """h2spec http2/6.5.3/1: INITIAL_WINDOW_SIZE 100 then 1 in one SETTINGS frame: the last value wins."""
    conn.handshake()
    conn.settings((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1))
    assert conn.wait(lambda f: f[0] == SETTINGS and f[1] & ACK) is not None
    conn.request(1)
    frame = conn.wait(data_on(1))
    assert frame is not None and len(frame[3]) == 1


def test_http2_6_9_1_1_initial_window_of_one(conn):
    """h2spec http2/6.9.1/1: with an initial window of 1 the first DATA frame carries exactly 1 byte."""
    conn.handshake()
    conn.settings((INITIAL_WINDOW_SIZE, 1))
    assert conn.wait(lambda f: f[0] == SETTINGS and f[1] & ACK) is not None
    conn.request(1)
    frame = conn.wait(data_on(1))
    assert frame is not None and len(frame[3]) == 1


def test_http2_6_9_2_1_initial_window_changed_after_headers(conn):
    """h2spec http2/6.9.2/1: raising INITIAL_WINDOW_SIZE from 0 to 1 after HEADERS releases 1 byte."""
    conn.handshake()
    conn.settings((INITIAL_WINDOW_SIZE, 0))
    assert conn.wait(lambda f: f[0] == SETTINGS and f[1] & ACK) is not None
    conn.request(1)
    conn.settings((INITIAL_WINDOW_SIZE, 1))
    frame = conn.wait(data_on(1))
    assert frame is not None and len(frame[3]) == 1


def test_http2_6_9_2_2_negative_window(conn):
    """h2spec http2/6.9.2/2: a window made negative by SETTINGS is tracked; WINDOW_UPDATE 2 then allows 1 byte."""
    conn.handshake()
    conn.settings((INITIAL_WINDOW_SIZE, 3))
    assert conn.wait(lambda f: f[0] == SETTINGS and f[1] & ACK) is not None
    conn.request(1)
    first = conn.wait(data_on(1))
    assert first is not None and len(first[3]) == 3
    conn.settings((INITIAL_WINDOW_SIZE, 2))
    assert conn.wait(lambda f: f[0] == SETTINGS and f[1] & ACK) is not None
    conn.send(WINDOW_UPDATE, 0, 1, (2).to_bytes(4, "big"))
    frame = conn.wait(data_on(1))
    assert frame is not None and len(frame[3]) == 1


def test_http2_6_9_2_3_window_over_maximum_is_flow_control_error(conn):
    """h2spec http2/6.9.2/3: INITIAL_WINDOW_SIZE above 2^31-1 is a connection error FLOW_CONTROL_ERROR."""
    conn.handshake()
    conn.sock.sendall(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00" + b"\x00\x04\x80\x00\x00\x00")
    goaway = conn.wait(lambda f: f[0] == GOAWAY)
    assert goaway is not None and int.from_bytes(goaway[3][4:8], "big") == 0x3
