from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from bigstock.ids import public_id_field
from bigstock.tenancy import PartnerQuerySet

from .validators import clean_phone, clean_siret, clean_vat_number


class UserManager(BaseUserManager):
    """Users log in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person: a partner's team member or a BigStock staff member (``is_staff``)."""

    username = None
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


class LegalForm(models.TextChoices):
    SAS = "SAS", "SAS"
    SASU = "SASU", "SASU"
    SARL = "SARL", "SARL"
    EURL = "EURL", "EURL"
    SA = "SA", "SA"
    SNC = "SNC", "SNC"
    EI = "EI", _("Sole proprietorship (EI)")
    MICRO = "MICRO", _("Micro-enterprise")
    FOREIGN = "FOREIGN", _("Foreign company")
    OTHER = "OTHER", _("Other")


class Partner(models.Model):
    """A partner business: the tenant. Every partner-owned row points here."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    public_id = public_id_field("par")
    legal_name = models.CharField(_("legal name"), max_length=200)
    trade_name = models.CharField(_("trade name"), max_length=200, blank=True)
    siret = models.CharField(_("SIRET or SIREN"), max_length=14, blank=True, db_index=True)
    vat_number = models.CharField(_("intra-EU VAT number"), max_length=20, blank=True, db_index=True)
    legal_form = models.CharField(_("legal form"), max_length=10, choices=LegalForm.choices, default=LegalForm.SAS)
    address_line1 = models.CharField(_("address"), max_length=200)
    address_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = CountryField(_("country"), default="FR")
    billing_email = models.EmailField(_("billing email"))
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    require_2fa = models.BooleanField(
        _("two-factor authentication required"), default=False,
        help_text=_("Every team member must set up an authenticator app before using the portal."),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["legal_name"]

    def __str__(self) -> str:
        return self.trade_name or self.legal_name

    @property
    def siren(self) -> str:
        return self.siret[:9]

    @property
    def display_name(self) -> str:
        return str(self)

    @property
    def can_order(self) -> bool:
        return self.status == self.Status.ACTIVE

    def clean_fields(self, exclude=None):
        # Partners type identifiers with spaces and dots: compact them before length checks.
        self.siret = "".join(ch for ch in self.siret if not ch.isspace() and ch not in ".-")
        self.vat_number = "".join(ch for ch in self.vat_number if not ch.isspace() and ch not in ".-").upper()
        super().clean_fields(exclude=exclude)

    def clean(self):
        errors = {}
        country = str(self.country or "")
        for field, check in [
            ("siret", lambda v: clean_siret(v)),
            ("vat_number", lambda v: clean_vat_number(v, country=country)),
            ("phone", lambda v: clean_phone(v, country=country)),
        ]:
            value = getattr(self, field)
            if value:
                try:
                    setattr(self, field, check(value))
                except ValidationError as exc:
                    errors[field] = exc.messages
        if country == "FR" and not self.siret and "siret" not in errors:
            errors["siret"] = [_("A French business needs its SIRET (or SIREN).")]
        if errors:
            raise ValidationError(errors)


class Membership(models.Model):
    """A user's place in a partner's team, with a role (rules in ``partners.roles``)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("user"))
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships",
                                verbose_name=_("partner"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "partner"], name="membership_unique_user_partner")]

    def __str__(self) -> str:
        return f"{self.user} · {self.partner} ({self.get_role_display()})"


class Invitation(models.Model):
    """An email invitation to join a partner's team: single use, expires."""

    public_id = public_id_field("inv")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations",
                                verbose_name=_("partner"))
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("invited by"))
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                    verbose_name=_("accepted by"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.partner}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class ApiKey(models.Model):
    """A key a partner's systems use: ``bsk_<prefix>_<secret>``. Only the prefix and a hash are kept."""

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Write")

    public_id = public_id_field("key")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys",
                                verbose_name=_("partner"))
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    secret_hash = models.CharField(_("secret hash"), max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (bsk_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class AuditLogEntry(models.Model):
    """Who (user or API key, and IP) did what to which object, and when. Append-only."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("partner"))
    actor_user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("user"))
    actor_api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+", verbose_name=_("API key"))
    actor_label = models.CharField(_("actor"), max_length=200)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    target_type = models.CharField(_("object type"), max_length=60, blank=True)
    target_id = models.CharField(_("object id"), max_length=60, blank=True)
    target_label = models.CharField(_("object"), max_length=200, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
