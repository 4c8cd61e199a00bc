from django.db import models


class IdempotencyRecord(models.Model):
    """The stored outcome of a POST sent with an ``Idempotency-Key`` header.

    ``scope`` is the calling principal, so two callers may use the same key. A record with
    no ``response_status`` is a request still running (or one whose process died: it is
    taken over after ``STALE_AFTER``).
    """

    scope = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
