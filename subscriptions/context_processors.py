"""The move-to-paid banner on every portal page of a partner that has not chosen a plan."""

from . import campaign, growth, services


def transition_notice(request) -> dict:
    partner = getattr(request, "partner", None)
    if partner is None or not request.path.startswith("/") or request.path.startswith(("/api/", "/admin/")):
        return {}
    if services.current_subscription(partner) is not None:
        return {}
    active = campaign.active_campaign()
    if active is None:
        return {}
    last_month = growth.last_month_orders(partner=partner)
    fit = growth.plan_that_fits(orders_per_month=last_month) if last_month is not None else None
    return {"transition_notice": {"campaign": active, "plans": services.offered_plans(), "fit": fit,
                                  "last_month_orders": last_month}}
