"""Hostile HTTP/1.1 on the REST port (libmicrohttpd under our loop): every case gets the right status or a close,
and the server keeps serving normal requests afterwards."""
import socket
import threading
import time

import pytest

from resthelpers import churn_registry, infer_json, raw_exchange, request, start_rest, status_of

ROW = [[35.0, 52000.0, 12.0, 640.0]]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return churn_registry(tmp_path_factory.mktemp("rest-hostile"))


@pytest.fixture
def rest(registry, sluice_server):
    server, port = start_rest(sluice_server, registry, "--max-message-bytes", 65536, idle=2)
    return server, port


def still_serves(server, port):
    server.assert_alive()
    status, _, body = request(port, "POST", "/v2/models/skl_logreg_churn/infer", body=infer_json(ROW),
                              headers={"Content-Type": "application/json"})
    assert status == 200, body


def test_oversized_headers_get_431(rest):
    server, port = rest
    raw = raw_exchange(port, b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
    assert status_of(raw) == 431, raw[:200]
    still_serves(server, port)


def test_bad_chunked_encoding_gets_400_or_close(rest):
    server, port = rest
    raw = raw_exchange(port, b"POST /v2/models/skl_logreg_churn/infer HTTP/1.1\r\nHost: x\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    assert status_of(raw) == 400 and b"Connection: close" in raw, raw[:200]
    still_serves(server, port)


def test_content_length_with_transfer_encoding_is_refused_and_closed(rest):
    server, port = rest
    smuggled = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"0\r\n\r\n" + smuggled
    raw = raw_exchange(port, b"POST /v2/models/skl_logreg_churn/infer HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(body) + body)
    assert status_of(raw) == 400, raw[:300]
    # Exactly one response: the smuggled request after the body was never answered (the connection closed).
    assert raw.count(b"HTTP/1.1 ") == 1, raw
    still_serves(server, port)


@pytest.mark.parametrize("headers,status", [
    (b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n", 400),  # whitespace before the colon
    (b"Content-Length: 5\r\nContent-Length: 6\r\n", 400),           # two lengths
    (b"Transfer-Encoding: gzip, chunked\r\n", 501),                  # an encoding we do not decode
    (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 501),
])
def test_other_smuggling_shapes_are_refused_and_closed(rest, headers, status):
    server, port = rest
    raw = raw_exchange(port, b"POST /v2/models/skl_logreg_churn/infer HTTP/1.1\r\nHost: x\r\n" + headers +
                       b"\r\n0\r\n\r\nGET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(raw) == status, raw[:300]
    assert raw.count(b"HTTP/1.1 ") == 1, raw
    still_serves(server, port)


def test_huge_content_length_gets_413(rest):
    server, port = rest
    raw = raw_exchange(port, b"POST /v2/models/skl_logreg_churn/infer HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 1000000000000\r\n\r\n{")
    assert status_of(raw) == 413, raw[:300]
    assert b"over the limit" in raw
    still_serves(server, port)


def test_chunked_body_over_the_limit_is_cut(rest):
    server, port = rest
    chunk = b"a" * 16384
    data = b"POST /v2/models/skl_logreg_churn/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += (b"4000\r\n" + chunk + b"\r\n") * 8 + b"0\r\n\r\n"
    try:
        raw = raw_exchange(port, data)
    except (ConnectionResetError, BrokenPipeError):
        raw = b""
    assert status_of(raw) in (None, 413), raw[:300]
    still_serves(server, port)


def test_pipelined_requests_are_answered_in_order(rest):
    server, port = rest
    one = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    two = b"GET /v2/models/skl_logreg_churn HTTP/1.1\r\nHost: x\r\n\r\n"
    three = b"GET /v2/models/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = raw_exchange(port, one + two + three)
    statuses = [int(part.split(b" ", 1)[0]) for part in raw.split(b"HTTP/1.1 ")[1:]]
    assert statuses == [200, 200, 404], raw
    assert b'"platform":"onnx"' in raw
    still_serves(server, port)


def test_slowloris_is_closed_after_the_idle_timeout_and_others_are_served(rest):
    server, port = rest
    slow = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never finishes
        slow.append(sock)
    try:
        started = time.monotonic()
        still_serves(server, port)  # the stalled connections do not hold the loop
        for sock in slow:
            try:
                data = sock.recv(1024)  # blocks until the server closes the stalled connection
            except ConnectionResetError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
        closed_after = time.monotonic() - started
        # Closed by the 2 s idle timeout (generous bound for a loaded machine).
        assert closed_after < 15, closed_after
    finally:
        for sock in slow:
            sock.close()
    still_serves(server, port)


def test_trickling_client_is_cut_after_the_idle_timeout_in_total(rest):
    """A client that sends one header byte every 0.5 s never trips an inactivity timeout; the whole request must
    still arrive within the idle timeout (2 s here), so the server cuts it."""
    server, port = rest
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    started = time.monotonic()
    cut = False
    try:
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
        for _ in range(40):  # 20 s of trickling at most
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            sock.settimeout(0.5)
            try:
                if sock.recv(1024) == b"":
                    cut = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                cut = True
                break
        assert cut, "the trickling connection was not closed"
        assert time.monotonic() - started < 12
    finally:
        sock.close()
    still_serves(server, port)


def test_keepalive_connection_serves_many_requests_and_idles_out(rest):
    server, port = rest
    from resthelpers import connection

    conn = connection(port)
    for _ in range(5):  # requests keep coming: the connection stays open past the 2 s idle timeout in total
        conn.request("GET", "/v2/health/live")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b'{"live":true}'
        time.sleep(0.6)
    conn.close()
    still_serves(server, port)


def test_malformed_request_line_gets_400(rest):
    server, port = rest
    raw = raw_exchange(port, b"GET /v2/health/live HTTP/1.1 extra\r\nHost: x\r\n\r\n")
    assert status_of(raw) in (400, 505, None), raw[:200]
    raw = raw_exchange(port, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")
    assert status_of(raw) in (400, None), raw[:200]
    still_serves(server, port)


def test_many_concurrent_keepalive_clients(rest):
    server, port = rest
    errors = []

    def client():
        try:
            from resthelpers import connection
            conn = connection(port)
            for _ in range(20):
                conn.request("POST", "/v2/models/skl_logreg_churn/infer", body=infer_json(ROW))
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
            conn.close()
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    still_serves(server, port)


def test_connection_limit_holds_extra_clients_back_until_a_slot_frees(registry, sluice_server):
    server, port = start_rest(sluice_server, registry, "--max-connections", 4, idle=30)
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    extra = None
    try:
        for sock in held:
            sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # A fifth client waits in the kernel's backlog: the listener does not take it while four are open.
        extra = socket.create_connection(("127.0.0.1", port), timeout=2)
        extra.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        with pytest.raises(socket.timeout):
            extra.recv(4096)
        held.pop().close()
        extra.settimeout(15)
        assert extra.recv(4096).startswith(b"HTTP/1.1 200")  # served once a slot is free
    finally:
        for sock in held:
            sock.close()
        if extra is not None:
            extra.close()
    still_serves(server, port)
