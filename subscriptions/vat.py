"""VAT regimes for BigStock's services to businesses: the one table of rates and mentions.

A subscription is a B2B service: its place of supply is the buyer's country (CGI art. 259-1).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

EU_COUNTRIES = frozenset(
    ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
)


@dataclass(frozen=True)
class VatRegime:
    code: str
    rate: Decimal
    mention: str  # printed on the invoice, in French (the legal language of the invoice)
    label: str


REGIMES = {
    "fr": VatRegime("fr", Decimal("0.20"), "", _("French VAT 20 %")),
    "eu_reverse_charge": VatRegime(
        "eu_reverse_charge", Decimal("0"),
        "Autoliquidation - TVA due par le preneur (art. 283-2 du CGI, art. 196 de la directive 2006/112/CE)",
        _("EU reverse charge"),
    ),
    "export": VatRegime(
        "export", Decimal("0"), "TVA non applicable - article 259-1 du CGI (prestation hors UE)",
        _("Outside the EU: no French VAT"),
    ),
}


def regime_for(*, country: str, vat_number: str) -> VatRegime:
    """France: 20 %. EU business with a VAT number: reverse charge. Outside the EU: exempt.
    An EU buyer without a VAT number is charged French VAT."""
    country = str(country or "FR").upper()
    if country == "FR":
        return REGIMES["fr"]
    if country in EU_COUNTRIES:
        return REGIMES["eu_reverse_charge"] if vat_number else REGIMES["fr"]
    return REGIMES["export"]
