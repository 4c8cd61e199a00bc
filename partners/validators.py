"""Business identifiers, checked with python-stdnum and phonenumbers. Each error says which
check failed, so a partner knows what to fix."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat
from stdnum.fr import siren, siret


def _explain(exc: stdnum_errors.ValidationError, *, name: str, length: str) -> str:
    if isinstance(exc, stdnum_errors.InvalidLength):
        return _("%(name)s must have %(length)s.") % {"name": name, "length": length}
    if isinstance(exc, stdnum_errors.InvalidFormat):
        return _("%(name)s may contain only digits.") % {"name": name}
    if isinstance(exc, stdnum_errors.InvalidChecksum):
        return _("%(name)s has a wrong check digit (Luhn checksum): check for a typo.") % {"name": name}
    return _("%(name)s is not valid.") % {"name": name}


def clean_siret(value: str) -> str:
    """A SIRET (14 digits) or a SIREN (9 digits), returned compact."""
    compact = siret.compact(value or "")
    if len(compact) == 9:
        try:
            return siren.validate(compact)
        except stdnum_errors.ValidationError as exc:
            raise ValidationError(_explain(exc, name="SIREN", length=_("9 digits")), code="invalid_siren") from exc
    try:
        return siret.validate(compact)
    except stdnum_errors.ValidationError as exc:
        raise ValidationError(
            _explain(exc, name="SIRET", length=_("14 digits (or 9 for a SIREN)")), code="invalid_siret"
        ) from exc


def clean_vat_number(value: str, *, country: str | None = None) -> str:
    """An intra-EU VAT number, checked for its country's format and checksum."""
    compact = (value or "").upper().replace(" ", "").replace(".", "").replace("-", "")
    prefix = compact[:2]
    if not prefix.isalpha():
        raise ValidationError(
            _("The VAT number must start with its country code, for example FR12345678901."), code="invalid_vat"
        )
    try:
        compact = vat.validate(compact)
    except stdnum_errors.InvalidComponent as exc:
        raise ValidationError(
            _("%(prefix)s is not an EU country code for VAT numbers.") % {"prefix": prefix}, code="invalid_vat"
        ) from exc
    except stdnum_errors.InvalidChecksum as exc:
        raise ValidationError(
            _("The VAT number has a wrong check digit for %(prefix)s: check for a typo.") % {"prefix": prefix},
            code="invalid_vat",
        ) from exc
    except stdnum_errors.ValidationError as exc:
        raise ValidationError(
            _("The VAT number does not have the format used in %(prefix)s.") % {"prefix": prefix}, code="invalid_vat"
        ) from exc
    vat_country = "GR" if prefix == "EL" else prefix
    if country and vat_country != country:
        raise ValidationError(
            _("The VAT number is from %(prefix)s but the billing country is %(country)s.")
            % {"prefix": prefix, "country": country},
            code="vat_country_mismatch",
        )
    return compact


def clean_phone(value: str, *, country: str | None = None) -> str:
    """A phone number valid for ``country`` (or in international form), returned as E.164."""
    try:
        number = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("Enter the phone number in international form, for example +33 1 23 45 67 89."), code="invalid_phone"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("This phone number is not valid for its country."), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
