"""The move-to-paid banner on every portal page of a partner that has not chosen a plan."""

from . import campaign, services


def transition_notice(request) -> dict:
    partner = getattr(request, "partner", None)
    if partner is None or not request.path.startswith("/") or request.path.startswith(("/api/", "/admin/")):
        return {}
    if services.current_subscription(partner) is not None:
        return {}
    active = campaign.active_campaign()
    if active is None:
        return {}
    return {"transition_notice": {"campaign": active, "plans": services.offered_plans()}}
