"""Short-lived flags and counters shared by every process: Redis when ``REDIS_URL`` is set, else
Django's cache (the embedded default runs in one machine's processes).

Straight Redis commands (``SET NX EX``, ``INCRBY``), not Django's cache API, on the API's hot path:
the cache API builds a client and pickles the value on every call, and its ``incr`` reads first.
Keys are prefixed ``bigstock:``.
"""

import functools

from django.conf import settings
from django.core.cache import cache


def set_once(key: str, *, ttl_s: int) -> bool:
    """Set ``key`` for ``ttl_s`` seconds unless it is set: True when this call set it."""
    client = _redis()
    if client is None:
        return cache.add(key, 1, timeout=ttl_s)
    return bool(client.set(f"bigstock:{key}", 1, nx=True, ex=ttl_s))


def clear(key: str) -> None:
    client = _redis()
    if client is None:
        cache.delete(key)
    else:
        client.delete(f"bigstock:{key}")


def add(key: str, amount: int, *, ttl_s: int) -> int:
    """The counter at ``key`` after adding ``amount``; it expires ``ttl_s`` after the last addition."""
    client = _redis()
    if client is None:
        cache.add(key, 0, timeout=ttl_s)
        return cache.incr(key, amount)
    pipe = client.pipeline(transaction=False)
    pipe.incrby(f"bigstock:{key}", amount)
    pipe.expire(f"bigstock:{key}", ttl_s)
    total, _expiry = pipe.execute()
    return total


@functools.cache
def _redis():
    if not settings.REDIS_URL:
        return None
    import redis

    return redis.Redis.from_url(settings.REDIS_URL)
