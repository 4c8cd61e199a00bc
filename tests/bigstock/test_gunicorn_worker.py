"""The sync worker BigStock is served with: a connection whose request was read to its end is
closed at once, so the worker takes the next one; a client that may still send gets gunicorn's
graceful close, and its answer arrives whole."""

import functools
import os
import socket
import threading

import pytest
from gunicorn import http, util
from gunicorn.config import Config
from gunicorn.glogging import Logger

from bigstock.gunicorn_workers import SyncWorker, _nothing_more_to_come


def application(environ, start_response):
    if environ.get("HTTP_X_READ_BODY"):
        environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@pytest.fixture
def worker(monkeypatch):
    # gunicorn's graceful close gives up after 2 s: make it wait far longer than any test, so that
    # a worker still lingering cannot be mistaken for one that closed at once.
    monkeypatch.setattr(util, "close_graceful", functools.partial(util.close_graceful, timeout=60))
    cfg = Config()
    worker = SyncWorker(age=1, ppid=os.getpid(), sockets=[], app=None, timeout=30, cfg=cfg, log=Logger(cfg))
    worker.wsgi = application
    return worker


@pytest.fixture
def connection():
    """(listener, the client's socket, the accepted socket, its address)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, address = listener.accept()
        accepted.setblocking(True)  # as gunicorn's sync worker accepts
        yield listener, client, accepted, address
        client.close()


def serve(worker, connection) -> threading.Thread:
    listener, _client, accepted, address = connection
    thread = threading.Thread(target=worker.handle, args=(listener, accepted, address), daemon=True)
    thread.start()
    return thread


def read_to_end(client: socket.socket) -> bytes:
    client.settimeout(10)
    answer = b""
    while chunk := client.recv(4096):
        answer += chunk
    return answer


@pytest.mark.parametrize("request_bytes", [
    b"GET /stock HTTP/1.1\r\nHost: api\r\n\r\n",
    b"POST /orders HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\nX-Read-Body: 1\r\n\r\nhello",
], ids=["without a body", "with its body read"])
def test_a_request_read_to_its_end_frees_the_worker_while_the_client_still_holds_the_connection(
        worker, connection, request_bytes):
    client = connection[1]
    client.sendall(request_bytes)
    thread = serve(worker, connection)
    thread.join(timeout=10)
    assert not thread.is_alive()  # gunicorn's close would wait for the client (60 s here)
    answer = read_to_end(client)
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nok")


def test_a_client_that_may_still_send_gets_the_graceful_close_and_its_whole_answer(worker, connection):
    client = connection[1]
    client.sendall(b"POST /orders HTTP/1.1\r\nHost: api\r\nContent-Length: 11\r\n\r\nhel")  # the body unread
    thread = serve(worker, connection)
    answer = read_to_end(client)  # the answer, then the server's half-close
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nok")
    assert thread.is_alive()  # still reading what the client sends, so that closing cannot reset
    client.sendall(b"lo world")
    client.shutdown(socket.SHUT_WR)
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_bytes_already_waiting_keep_the_graceful_close(connection):
    _listener, client, accepted, address = connection
    client.sendall(b"GET /stock HTTP/1.1\r\nHost: api\r\n\r\n")
    request = next(http.get_parser(Config(), accepted, address))
    assert _nothing_more_to_come(request, accepted)
    client.sendall(b"GET /next HTTP/1.1\r\n")  # a pipelined request arriving
    accepted.settimeout(10)
    accepted.recv(1, socket.MSG_PEEK)  # it has arrived
    accepted.setblocking(True)
    assert not _nothing_more_to_come(request, accepted)
