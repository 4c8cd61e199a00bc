from subscriptions.models import Standing

from . import dispatch


def on_standing_changed(sender, *, partner_id: int, previous: str, level: str, **kwargs) -> None:
    """Payment or a subscription restored the partner: its held orders are processed."""
    if level in (Standing.Level.ACTIVE, Standing.Level.GRACE):
        dispatch.release_held(partner_id=partner_id)
