"""gunicorn's sync worker, closing a finished connection at once when nothing more can come from
the client, as nginx does (``lingering_close on``).

    gunicorn --worker-class bigstock.gunicorn_workers.SyncWorker bigstock.wsgi

A sync worker answers one connection at a time and closes it after the answer (no keep-alive).
gunicorn closes every connection "gracefully" (RFC 9112 §9.6): it half-closes, then reads until
the client closes its side, up to 2 s, so that data still arriving from the client (an unread
request body, a pipelined request) cannot make the kernel reset the connection before the client
has read its answer. Meanwhile the worker serves no one: for a short API call the wait for the
client to close is a large part of the time the worker is held.

The risk it guards against exists only when the client may still send: the request's body was
not read to its end, or bytes are already waiting. This worker keeps gunicorn's graceful close for
those connections and closes the others at once (both directions shut, so gunicorn's close finds
nothing to wait for). Everything else is gunicorn's sync worker.
"""

import contextlib
import socket

from gunicorn.http.body import LengthReader
from gunicorn.workers import sync


class SyncWorker(sync.SyncWorker):
    def handle_request(self, listener, req, client, addr):
        super().handle_request(listener, req, client, addr)
        if _nothing_more_to_come(req, client):
            with contextlib.suppress(OSError):  # the client is gone already: gunicorn's close does the rest
                client.shutdown(socket.SHUT_RDWR)


def _nothing_more_to_come(req, client: socket.socket) -> bool:
    """True when the request declared a length and the application read its body to the end, and
    no byte waits in the connection: the client has nothing more to send, closing cannot reset."""
    reader = getattr(req.body, "reader", None)
    if not isinstance(reader, LengthReader) or reader.length:
        return False  # a chunked or unread body: more may still be on its way
    try:
        client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True  # nothing waiting
    except (OSError, ValueError):  # ValueError: a TLS socket (gunicorn's own TLS) takes no flags
        return False
    return False  # a byte waits (a pipelined request), or the client closed first and there is no wait
