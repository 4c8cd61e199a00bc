"""Why an order moved, when BigStock says so rather than a person: kept as a code with its values
and written out when shown, so the timeline reads in the reader's language, as the checks'
results do (``checks.message_for``). A reason a person wrote (a justification, a cancellation)
is kept as written."""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from . import checks

BACKORDER = "backorder"
CHECKS_FAILED = "checks_failed"


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return text(self.code, self.params)


NO_REASON = Reason("")


def backorder(skus) -> Reason:
    return Reason(BACKORDER, {"skus": sorted(skus)})


def checks_failed(outcomes) -> Reason:
    return Reason(CHECKS_FAILED, {"failed": [{"code": outcome.code, "params": outcome.params} for outcome in outcomes]})


def text(code: str, params: dict) -> str:
    """The reason in the active language."""
    if code == BACKORDER:
        return _("Backorder: %(skus)s") % {"skus": ", ".join(params["skus"])}
    if code == CHECKS_FAILED:
        return "; ".join(checks.message_for(failed["code"], failed["params"]) for failed in params["failed"])
    return code
