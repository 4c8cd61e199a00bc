"""``Idempotency-Key`` for POST requests: the same key and body replays the stored response,
the same key with another body is refused, keys expire after 24 hours."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import sql
from .errors import Conflict, DomainError
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 255
# A request still "in progress" after this long belongs to a process that died.
STALE_AFTER = timedelta(minutes=5)


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status_code = 422


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"


class Replay(Exception):
    """Raised to short-circuit a request with the response stored for its key."""

    def __init__(self, record: IdempotencyRecord):
        self.record = record


def _expiry_cutoff():
    return timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def begin(*, scope: str, key: str, method: str, path: str, body: bytes) -> IdempotencyRecord:
    """Claim ``key`` for this request, or raise ``Replay`` / a domain error."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(
            _("The Idempotency-Key header must be 1 to %(max)d printable characters.")
            % {"max": MAX_KEY_LENGTH}
        )
    request_hash = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
    now = timezone.now()
    record = _claim(scope=scope, key=key, method=method, path=path, request_hash=request_hash, now=now)
    if record is not None:
        return record
    # The key is known: replay its response, refuse, or take over a claim that expired or was abandoned.
    with transaction.atomic():
        existing = IdempotencyRecord.objects.select_for_update().filter(scope=scope, key=key).first()
        if existing is not None:
            expired = existing.created_at < _expiry_cutoff()
            abandoned = existing.response_status is None and existing.created_at < now - STALE_AFTER
            if expired or abandoned:
                existing.delete()
            elif existing.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    _(
                        "This Idempotency-Key was already used with a different request. "
                        "Use a new key for a new request."
                    )
                )
            elif existing.response_status is None:
                raise IdempotencyKeyInUse(
                    _("A request with this Idempotency-Key is still being processed. Retry in a moment.")
                )
            else:
                raise Replay(existing)
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    scope=scope, key=key, method=method, path=path, request_hash=request_hash
                )
        except IntegrityError as exc:  # a concurrent request claimed the key first
            raise IdempotencyKeyInUse(
                _("A request with this Idempotency-Key is still being processed. Retry in a moment.")
            ) from exc


_CLAIM_SQL = (
    f"INSERT INTO {IdempotencyRecord._meta.db_table} (scope, key, method, path, request_hash, created_at) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (scope, key) DO NOTHING RETURNING id"
)


_COMPLETE_SQL = (
    f"UPDATE {IdempotencyRecord._meta.db_table} SET response_status = %s, response_body = %s "  # noqa: S608
    "WHERE id = %s"
)


def _claim(*, scope: str, key: str, method: str, path: str, request_hash: str, now) -> IdempotencyRecord | None:
    """The new record claiming ``key``, in one statement; None when the key is already known. While
    another transaction holds an uncommitted claim of the key, this waits for its outcome."""
    rows = sql.fetch(_CLAIM_SQL, [scope, key, method, path, request_hash, connection.ops.adapt_datetimefield_value(now)])
    if not rows:
        return None
    return IdempotencyRecord(pk=rows[0][0], scope=scope, key=key, method=method, path=path, request_hash=request_hash,
                             created_at=now)


def complete(record: IdempotencyRecord, *, status_code: int, body) -> None:
    """Store the outcome. Server errors are not stored, so the client can retry with the same key."""
    if status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    response_body = IdempotencyRecord._meta.get_field("response_body")
    sql.execute(_COMPLETE_SQL, [status_code, response_body.get_db_prep_save(body, connection), record.pk])


def purge_expired() -> int:
    """Delete records past their 24-hour lifetime. Returns how many were deleted."""
    deleted, _details = IdempotencyRecord.objects.filter(created_at__lt=_expiry_cutoff()).delete()
    return deleted
