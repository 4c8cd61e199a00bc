"""BigStock settings: one file, every value read from the environment with a safe default.

The README has a table of every variable. The embedded default (no variable set but
``DEBUG=1`` and a ``SECRET_KEY``) runs on SQLite and an embedded Celery broker; production
sets ``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

import json
import math
import os
from datetime import date
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `make run` writes a local .env (DEBUG on, a generated SECRET_KEY); real environments set variables.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _required(name: str, hint: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} is required: {hint}")
    return value


def _date(name: str, default: str) -> date:
    raw = env.str(name, default=default)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"The environment variable {name} must be a date as YYYY-MM-DD, not {raw!r}"
        ) from None


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or (
    "insecure-development-key"
    if DEBUG
    else _required(
        "SECRET_KEY",
        "set it to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(50))')",
    )
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env.str("BIGSTOCK_DATA_DIR", default=str(BASE_DIR / "var")))
if not DATA_DIR.is_absolute():
    DATA_DIR = BASE_DIR / DATA_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- Applications ----------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "rest_framework",
    "rest_framework.authtoken",  # only for the migration that moved its tokens to knox
    "knox",  # staff tokens for the warehouse API, kept hashed (inventory/staff_api.py)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # BigStock, in dependency order: each app may import only the ones above it.
    "bigstock",
    "partners",
    "subscriptions",
    "inventory",
    "orders",
    "support",
]

# bigstock.portal_middleware.* are Django's and ours, skipped by API calls made with
# an API key (no session, user, messages or portal partner there: DRF authenticates the key).
MIDDLEWARE = [
    "bigstock.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bigstock.portal_middleware.Sessions",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # named for check --deploy; cheap on API calls
    "bigstock.portal_middleware.Authentication",
    "bigstock.portal_middleware.Messages",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # named for check --deploy
    "allauth.account.middleware.AccountMiddleware",  # allauth requires it by name; cheap on API calls
    "bigstock.portal_middleware.CurrentPartner",
    "bigstock.portal_middleware.RequireTwoFactor",
]

ROOT_URLCONF = "bigstock.urls"
WSGI_APPLICATION = "bigstock.wsgi.application"
ASGI_APPLICATION = "bigstock.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "bigstock.context_processors.portal",
                "subscriptions.context_processors.transition_notice",
            ],
        },
    },
]

# --- Data ------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"].get("ENGINE") not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
    raise ImproperlyConfigured(
        "The environment variable DATABASE_URL must be postgres://user:password@host:port/name "
        "or sqlite:///path/to/file.sqlite3"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the Celery worker read while the other writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }
    # Tests use a file (one per run: runs in one checkout do not clobber each other's), so a real
    # Celery worker thread shares the test database; an in-memory one cannot be shared.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bigstock",
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Auth ------------------------------------------------------------------------------

AUTH_USER_MODEL = "partners.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "partners:dashboard"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[BigStock] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "BigStock"

# --- Internationalisation --------------------------------------------------------------

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"  # business dates and every date shown to a person
USE_I18N = True
USE_TZ = True  # stored in UTC

# --- Static and uploaded files ---------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Email -----------------------------------------------------------------------------

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="BigStock <no-reply@bigstock.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (production values when DEBUG is off) ------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "partners.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "partners.permissions.PartnerAccess",
        "subscriptions.permissions.StandingAllowsWrites",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "bigstock.renderers.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["bigstock.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "bigstock.parsers.MultiPartParser"],
    "DEFAULT_THROTTLE_CLASSES": ["partners.throttling.PartnerRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "bigstock.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "bigstock.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["bigstock.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": env.str("API_USER_RATE", default="600/min"),
                               "api_key": env.str("API_KEY_RATE", default="1200/min")},
    "DATETIME_FORMAT": "iso-8601",  # in UTC: bigstock.middleware activates UTC for /api/
}
# Staff tokens of the warehouse API (inventory/staff_api.py): a warehouse system keeps one until staff
# revoke it in the admin.
REST_KNOX = {"TOKEN_TTL": None, "AUTO_REFRESH": False}
SPECTACULAR_SETTINGS = {
    "TITLE": "BigStock partner API",
    "DESCRIPTION": "Stock feed, orders, tracking, invoices, tickets and webhooks for BigStock partners.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"OrderStatusEnum": "orders.models.Status", "TicketStatusEnum": "support.models.Status",
                            "TicketCategoryEnum": "support.models.Category",
                            "TicketPriorityEnum": "support.models.Priority"},
}
IDEMPOTENCY_KEY_TTL_HOURS = 24
# API keys, standing and plan terms are kept this long in each process (bigstock.hotcache):
# a change made elsewhere is seen by the API within this time. 0 turns the caches off.
BIGSTOCK_HOT_CACHE_SECONDS = env.int("BIGSTOCK_HOT_CACHE_SECONDS", default=5)
if not 0 <= BIGSTOCK_HOT_CACHE_SECONDS <= 60:
    raise ImproperlyConfigured("BIGSTOCK_HOT_CACHE_SECONDS must be between 0 and 60 seconds.")

# --- Celery ----------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_EMBEDDED_BROKER_DIR = DATA_DIR / "broker"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "")
if not CELERY_RESULT_BACKEND:
    (DATA_DIR / "celery-results").mkdir(exist_ok=True)
    CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'celery-results'}"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILE = str(DATA_DIR / "celerybeat-schedule")

# --- Logging ---------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "bigstock.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- BigStock business settings (BIGSTOCK_*) -------------------------------------------

BIGSTOCK_SITE_URL = env.str("BIGSTOCK_SITE_URL", default="http://127.0.0.1:8000")
BIGSTOCK_SELLER = {
    "legal_name": env.str("BIGSTOCK_SELLER_LEGAL_NAME", default="BigStock SAS"),
    "legal_form": env.str("BIGSTOCK_SELLER_LEGAL_FORM", default="SAS"),
    "share_capital_cents": env.int("BIGSTOCK_SELLER_SHARE_CAPITAL_CENTS", default=10_000_000),
    "address": env.str("BIGSTOCK_SELLER_ADDRESS", default="12 rue des Entrepôts, 69007 Lyon, France"),
    "siren": env.str("BIGSTOCK_SELLER_SIREN", default="732829320"),
    "rcs": env.str("BIGSTOCK_SELLER_RCS", default="RCS Lyon 732 829 320"),
    "vat_number": env.str("BIGSTOCK_SELLER_VAT_NUMBER", default="FR44732829320"),
    "email": env.str("BIGSTOCK_SELLER_EMAIL", default="facturation@bigstock.example"),
}
BIGSTOCK_BANK = {
    "holder": env.str("BIGSTOCK_BANK_HOLDER", default="BigStock SAS"),
    "iban": env.str("BIGSTOCK_BANK_IBAN", default="FR7630006000011234567890189"),
    "bic": env.str("BIGSTOCK_BANK_BIC", default="AGRIFRPP"),
}
BIGSTOCK_TRANSITION_DATE = _date("BIGSTOCK_TRANSITION_DATE", default="2027-01-01")
BIGSTOCK_DORMANT_AFTER_DAYS = env.int("BIGSTOCK_DORMANT_AFTER_DAYS", default=90)
BIGSTOCK_PAYMENT_TERMS_DAYS = env.int("BIGSTOCK_PAYMENT_TERMS_DAYS", default=15)
BIGSTOCK_GRACE_DAYS = env.int("BIGSTOCK_GRACE_DAYS", default=14)
BIGSTOCK_REMINDER_DAYS = [int(day) for day in env.list("BIGSTOCK_REMINDER_DAYS", default=["3", "7", "14"])]
BIGSTOCK_LATE_PENALTY_RATE = env.str("BIGSTOCK_LATE_PENALTY_RATE", default="3 fois le taux d'intérêt légal")
BIGSTOCK_SERVED_COUNTRIES = env.list(
    "BIGSTOCK_SERVED_COUNTRIES",
    default=["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "CH", "GB", "MC", "NO"],
)
BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = env.int("BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS", default=500_000)
# Per carrier service: the heaviest parcel and the longest side accepted.
BIGSTOCK_CARRIER_LIMITS = {
    "standard": {"max_weight_g": 30_000, "max_side_mm": 1_200},
    "express": {"max_weight_g": 20_000, "max_side_mm": 1_000},
    "economy": {"max_weight_g": 30_000, "max_side_mm": 1_500},
}
BIGSTOCK_ORDER_QUEUE_DEPTH = env.int("BIGSTOCK_ORDER_QUEUE_DEPTH", default=20)


def _targets_per_plan(name: str, default: dict[str, float]) -> dict[str, float]:
    """A JSON object, plan code -> a positive number; ``"default"`` for the plans not named."""
    raw = env.str(name, default="").strip()
    if not raw:
        return dict(default)
    try:
        targets = json.loads(raw)
    except ValueError:
        targets = None
    if not (isinstance(targets, dict) and targets and all(
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
            for value in targets.values())):
        raise ImproperlyConfigured(
            f"The environment variable {name} must be a JSON object of plan code to a positive number, "
            f"with \"default\" for the other plans, like {json.dumps(default)}; not {raw!r}")
    return {**default, **targets}


# Processing delay targets per plan code, from submission: checks done, and shipped.
BIGSTOCK_CHECK_TARGET_MINUTES = _targets_per_plan("BIGSTOCK_CHECK_TARGET_MINUTES", {"default": 10})
BIGSTOCK_SHIP_TARGET_HOURS = _targets_per_plan("BIGSTOCK_SHIP_TARGET_HOURS", {"default": 48})
BIGSTOCK_SUPPORT_EMAIL = env.str("BIGSTOCK_SUPPORT_EMAIL", default="support@bigstock.example")
BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK = env.bool("BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK", default=False)

# --- Support: business hours in Europe/Paris, SLA fallbacks, attachments, email -----------


def _time_ranges(name: str, default: str) -> list[tuple[int, int]]:
    """``09:00-12:30,13:30-18:00`` -> minutes after midnight, ``24:00`` allowed as an end."""
    ranges = []
    for part in env.list(name, default=default.split(",")):
        try:
            start, end = (int(h) * 60 + int(m) for h, m in (t.strip().split(":") for t in part.split("-")))
        except ValueError:
            raise ImproperlyConfigured(f"The environment variable {name} must look like 09:00-18:00, not {part!r}") from None
        if not 0 <= start < end <= 24 * 60:
            raise ImproperlyConfigured(f"The environment variable {name} has an empty or impossible range {part!r}")
        ranges.append((start, end))
    return sorted(ranges)


BIGSTOCK_SUPPORT_BUSINESS_HOURS = _time_ranges("BIGSTOCK_SUPPORT_BUSINESS_HOURS", "09:00-18:00")
BIGSTOCK_SUPPORT_BUSINESS_DAYS = [int(day) for day in env.list("BIGSTOCK_SUPPORT_BUSINESS_DAYS",
                                                               default=["1", "2", "3", "4", "5"])]
if not BIGSTOCK_SUPPORT_BUSINESS_DAYS or not set(BIGSTOCK_SUPPORT_BUSINESS_DAYS) <= set(range(1, 8)):
    raise ImproperlyConfigured("The environment variable BIGSTOCK_SUPPORT_BUSINESS_DAYS lists ISO weekdays, 1 (Monday) to 7")
BIGSTOCK_SUPPORT_FRENCH_HOLIDAYS = env.bool("BIGSTOCK_SUPPORT_FRENCH_HOLIDAYS", default=True)
try:
    BIGSTOCK_SUPPORT_HOLIDAYS = [date.fromisoformat(raw.strip()) for raw in env.list("BIGSTOCK_SUPPORT_HOLIDAYS", default=[])]
except ValueError:
    raise ImproperlyConfigured("The environment variable BIGSTOCK_SUPPORT_HOLIDAYS lists dates as YYYY-MM-DD") from None
BIGSTOCK_SUPPORT_DEFAULT_FIRST_RESPONSE_HOURS = env.int("BIGSTOCK_SUPPORT_DEFAULT_FIRST_RESPONSE_HOURS", default=48)
BIGSTOCK_SUPPORT_DEFAULT_RESOLUTION_HOURS = env.int("BIGSTOCK_SUPPORT_DEFAULT_RESOLUTION_HOURS", default=120)
BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS = env.float("BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS", default=2.0)
BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS = env.int("BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS", default=7)
BIGSTOCK_SUPPORT_REOPEN_DAYS = env.int("BIGSTOCK_SUPPORT_REOPEN_DAYS", default=30)
BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES = env.int("BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
BIGSTOCK_SUPPORT_MAX_ATTACHMENTS = env.int("BIGSTOCK_SUPPORT_MAX_ATTACHMENTS", default=5)
# Attachments are private: stored outside MEDIA_ROOT's public URL, served only by a view that checks access.
BIGSTOCK_SUPPORT_ATTACHMENTS_DIR = env.str("BIGSTOCK_SUPPORT_ATTACHMENTS_DIR", default="")
BIGSTOCK_SUPPORT_TEAM_EMAIL = env.str("BIGSTOCK_SUPPORT_TEAM_EMAIL", default="support-team@bigstock.example")
BIGSTOCK_SUPPORT_LEAD_EMAIL = env.str("BIGSTOCK_SUPPORT_LEAD_EMAIL", default="support-lead@bigstock.example")
BIGSTOCK_SUPPORT_INBOUND_SECRET = env.str("BIGSTOCK_SUPPORT_INBOUND_SECRET", default="")

# --- Stripe: the card and SEPA Direct Debit rail (not offered without keys) ------------

STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
_stripe_keys = {"STRIPE_SECRET_KEY": STRIPE_SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": STRIPE_PUBLISHABLE_KEY,
                "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET}
if any(_stripe_keys.values()) and not all(_stripe_keys.values()):
    _missing = ", ".join(name for name, value in _stripe_keys.items() if not value)
    raise ImproperlyConfigured(f"The environment variable(s) {_missing} are required once one Stripe key is set")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com").rstrip("/")
# Stripe.js comes from Stripe; an emulator serves its own at <base>/js.stripe.com/v3/.
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/" if STRIPE_API_BASE == "https://api.stripe.com"
                        else f"{STRIPE_API_BASE}/js.stripe.com/v3/")
STRIPE_TIMEOUT_S = env.int("STRIPE_TIMEOUT_S", default=20)
STRIPE_RETRY_DAYS = [int(day) for day in env.list("STRIPE_RETRY_DAYS", default=["3", "5", "7"])]
STRIPE_RECONCILE_AFTER_MINUTES = env.int("STRIPE_RECONCILE_AFTER_MINUTES", default=30)
STRIPE_ALERT_EMAIL = env.str("STRIPE_ALERT_EMAIL", default=BIGSTOCK_SELLER["email"])
LOGGING["loggers"]["stripe"] = {"level": "WARNING"}  # the library logs every request at INFO
