"""Demo accounts for `make run`: staff, and partners in every state with their teams and keys.

Idempotent: a second run finds what exists. API key secrets cannot be read back from the
database (only a hash is kept), so the demo keeps the ones it created in
``<BIGSTOCK_DATA_DIR>/demo_api_keys.json`` and prints them on every start.
"""

import json

from allauth.account.models import EmailAddress
from django.conf import settings
from stdnum import luhn

from . import services
from .audit import SYSTEM
from .models import ApiKey, Membership, Partner, Role, User

STAFF_EMAIL = "staff@bigstock.example"
DEMO_PASSWORD = "bigstock-demo"  # noqa: S105 - demo data only, printed on start
KEYS_FILE = "demo_api_keys.json"


def _siret(siren_base: str) -> str:
    siren = siren_base + luhn.calc_check_digit(siren_base)
    return siren + "0001" + luhn.calc_check_digit(siren + "0001")


PARTNERS = [
    # (trade name, legal name, siren base (8 digits), city, postcode, status, team, with API key)
    ("Maison Durand", "Maison Durand SARL", "41235678", "Lyon", "69002", Partner.Status.ACTIVE,
     [("alice@durand.example", Role.OWNER), ("bruno@durand.example", Role.MEMBER)], True),
    ("Atelier Lumière", "Atelier Lumière SAS", "52348765", "Nantes", "44000", Partner.Status.ACTIVE,
     [("claire@lumiere.example", Role.OWNER), ("david@lumiere.example", Role.ADMIN),
      ("emma@lumiere.example", Role.MEMBER), ("alice@durand.example", Role.MEMBER)], True),
    ("Boutique Soleil", "Boutique Soleil EURL", "63451234", "Marseille", "13001", Partner.Status.PENDING,
     [("farid@soleil.example", Role.OWNER), ("gina@soleil.example", Role.MEMBER)], False),
    ("Vieux Comptoir", "Le Vieux Comptoir SAS", "74562345", "Lille", "59000", Partner.Status.SUSPENDED,
     [("hugo@comptoir.example", Role.OWNER), ("ines@comptoir.example", Role.MEMBER)], False),
    ("Ancien Bazar", "Ancien Bazar SARL", "85673456", "Bordeaux", "33000", Partner.Status.CLOSED,
     [("jules@bazar.example", Role.OWNER), ("karima@bazar.example", Role.MEMBER)], False),
]


def _user(email: str, **fields) -> User:
    user, created = User.objects.get_or_create(email=email, defaults=fields)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


def _partner(trade_name, legal_name, siren_base, city, postcode, status, team) -> Partner:
    partner = Partner.objects.filter(legal_name=legal_name).first()
    owner_email = team[0][0]
    if partner is None:
        partner = services.create_partner(
            owner=_user(owner_email), actor=SYSTEM, legal_name=legal_name, trade_name=trade_name,
            siret=_siret(siren_base), legal_form="SAS", address_line1="1 rue du Commerce", postcode=postcode,
            city=city, country="FR", billing_email=f"compta@{owner_email.split('@')[1]}", phone="+33123456789",
        )
    for email, role in team:
        Membership.objects.get_or_create(user=_user(email), partner=partner, defaults={"role": role})
    if status != Partner.Status.PENDING:
        services.set_partner_status(partner=partner, status=Partner.Status.ACTIVE, actor=SYSTEM)
        partner = services.set_partner_status(partner=partner, status=status, actor=SYSTEM)
    return partner


def _api_key(partner: Partner, known: dict) -> str:
    secret = known.get(partner.public_id)
    prefix = secret.split("_")[1] if secret else None
    if prefix and ApiKey.objects.filter(partner=partner, prefix=prefix, revoked_at=None).exists():
        return secret
    owner = partner.memberships.filter(role=Role.OWNER).first()
    _key, secret = services.create_api_key(partner=partner, membership=owner, name="Demo ERP",
                                           scopes=["read", "write"], expires_at=None, actor=SYSTEM)
    known[partner.public_id] = secret
    return secret


def load() -> list[str]:
    _user(STAFF_EMAIL, is_staff=True, is_superuser=True, first_name="Camille", last_name="Staff")
    keys_path = settings.DATA_DIR / KEYS_FILE
    known = json.loads(keys_path.read_text()) if keys_path.exists() else {}
    lines = [f"staff    {STAFF_EMAIL} / {DEMO_PASSWORD}  (admin and portal)"]
    for trade_name, legal_name, siren_base, city, postcode, status, team, with_key in PARTNERS:
        partner = _partner(trade_name, legal_name, siren_base, city, postcode, status, team)
        people = ", ".join(f"{email} ({role})" for email, role in team)
        lines.append(f"{trade_name} [{partner.get_status_display()}]: {people}")
        if with_key:
            lines.append(f"    API key: {_api_key(partner, known)}")
    keys_path.write_text(json.dumps(known, indent=2))
    lines.append(f"Every demo password: {DEMO_PASSWORD}")
    return lines
