"""Demo accounts for `make run`."""

from allauth.account.models import EmailAddress

from .models import User

STAFF_EMAIL = "staff@bigstock.example"
DEMO_PASSWORD = "bigstock-demo"  # noqa: S105 - demo data only, printed on start


def _user(email: str, **fields) -> User:
    user, created = User.objects.get_or_create(email=email, defaults=fields)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def load() -> list[str]:
    _user(STAFF_EMAIL, is_staff=True, is_superuser=True, first_name="Camille", last_name="Staff")
    return [f"staff    {STAFF_EMAIL} / {DEMO_PASSWORD}  (admin and portal)"]
