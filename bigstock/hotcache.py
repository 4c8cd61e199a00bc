"""Short-lived, per-process caches for what every API call would otherwise read again: the API
key behind a prefix, the partner's standing, its plan's terms (discount, API rate).

An entry lives ``BIGSTOCK_HOT_CACHE_SECONDS`` (5 s by default, 0 turns the caches off): a change
made in another process (another gunicorn worker, staff in the admin) is seen within that time.
A change saved in this process clears the entries it concerns at once (``forget_on_save``, called
by each app for the models its cache reads). Only values that can safely be a few seconds old
go here; decisions that must see the latest write (the dispatcher, billing) read the database.
"""

import copy
import threading
import time

from cachetools import TTLCache
from django.conf import settings
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

_MISSING = object()
_registry: list["HotCache"] = []
_clock = time.monotonic  # tests move it forward


def _now() -> float:
    return _clock()


class HotCache:
    def __init__(self, name: str, *, maxsize: int = 10_000):
        self.name = name
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._entries: TTLCache | None = None
        _registry.append(self)

    def _cache(self) -> TTLCache | None:
        ttl = settings.BIGSTOCK_HOT_CACHE_SECONDS
        if ttl <= 0:
            return None
        if self._entries is None or self._entries.ttl != ttl:
            self._entries = TTLCache(self._maxsize, ttl, timer=_now)
        return self._entries

    def get_or_load(self, key, load):
        """The cached value for ``key``, or ``load()`` (cached for next time). Model instances come
        back as copies, so a request changing its own instance never changes the cached one."""
        with self._lock:
            entries = self._cache()
            value = _MISSING if entries is None else entries.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            if entries is not None:
                with self._lock:
                    entries[key] = value
        return _copy(value)

    def update(self, key, change) -> None:
        """Apply ``change(value)`` to the cached value of ``key`` if there is one."""
        with self._lock:
            entries = self._entries
            value = _MISSING if entries is None else entries.get(key, _MISSING)
            if value is not _MISSING:
                change(value)

    def discard(self, key) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            if self._entries is not None:
                self._entries.clear()

    def forget_on_save(self, model, *, key=None) -> None:
        """Saving or deleting a ``model`` instance in this process forgets the entry ``key(instance)``,
        or every entry when no ``key`` is given."""
        def forget(sender, instance, **kwargs):
            if key is None:
                self.clear()
            else:
                self.discard(key(instance))

        for signal in (post_save, post_delete):
            signal.connect(forget, sender=model, weak=False, dispatch_uid=f"hotcache.{self.name}.{model._meta.label}")

    def forget_on_relation_change(self, relation) -> None:
        """Adding to, removing from or clearing the many-to-many ``relation`` (a field's
        ``through`` model, e.g. ``User.user_permissions.through``) in this process forgets every entry."""
        def forget(sender, action, **kwargs):
            if action.startswith("post_"):
                self.clear()

        m2m_changed.connect(forget, sender=relation, weak=False,
                            dispatch_uid=f"hotcache.{self.name}.{relation._meta.label}")


def clear_all() -> None:
    for cache in _registry:
        cache.clear()


def _copy(value):
    if not isinstance(value, Model):
        return value
    return _copy_instance(value)


def _copy_instance(instance, copies: dict | None = None):
    """A shallow copy with its own state and related-objects cache (what ``copy.copy`` does through
    ``Model.__getstate__``, without the pickling protocol: this runs on every API call). Related
    instances are copied once each: a one-to-one caches each side on the other."""
    copies = {} if copies is None else copies
    fresh = copies[id(instance)] = instance.__class__.__new__(instance.__class__)
    fresh.__dict__ = instance.__dict__.copy()
    fresh._state = copy.copy(instance._state)
    fresh._state.fields_cache = {
        name: (copies.get(id(related)) or _copy_instance(related, copies)) if isinstance(related, Model) else related
        for name, related in instance._state.fields_cache.items()
    }
    return fresh
