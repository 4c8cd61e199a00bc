"""Signals other apps listen to (they may depend on subscriptions; it never imports them)."""

from django.dispatch import Signal

# Sent after commit when a partner's standing level changes: partner_id, previous, level.
standing_changed = Signal()
