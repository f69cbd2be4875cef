"""Settings, read from the environment once (see README "Configuration")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import phonenumbers
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DJANGO_DEBUG", False)
TESTING = env_bool("DJANGO_TESTING", False)

# The production secret has no default: without DEBUG (or the test runner) a missing key is fatal.
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-not-for-production"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (or DJANGO_DEBUG=1 for local development)."
        )

# Earlier keys, still accepted for sessions and signed values while they roll over (docs/security.md).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = sorted({"localhost", "127.0.0.1", "[::1]", *env_list("DJANGO_ALLOWED_HOSTS")})
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # Installed for its abstract model only: our keys are accounts.ApiKey (its own table stays empty).
    "rest_framework_api_key",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "accounts",
    "csp",
    "campaigns",
    "leads",
    "reports",
    "connectors",
]

# Messages are kept in the session (the database), not in a cookie: a connector's new secret
# is shown once through one and must not travel in a cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the middleware that may answer on their own, so their pages carry the policy too.
    "csp.middleware.CSPMiddleware",
    "config.middleware.RefuseUnstorableInput",
    "config.middleware.ApiBodyLimit",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, else an SQLite file in the data directory (the embedded default).
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # A kept connection is checked before a request reuses it: after a database restart
        # the first request of each process reconnects instead of answering 500.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, a worker and the importer share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.PredictablePatternValidator"},
]

# Login lockout (django-axes), counted in the database so every web process sees the same
# count and it holds with Redis down. A (username, address) pair is locked after
# LOGIN_FAILURE_LIMIT failures for LOGIN_COOLOFF_MINUTES; the lockout backend comes first so a
# locked pair is refused before any password is hashed. See docs/security.md.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
if AXES_FAILURE_LIMIT < 1 or dt.timedelta(0) >= AXES_COOLOFF_TIME:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be positive")
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Its start-up banner on every process and command says nothing an operator needs.
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known time zone") from None
USE_I18N = True
USE_TZ = True

DEFAULT_CURRENCY = (env_str("DEFAULT_CURRENCY", "USD") or "USD").upper()
if len(DEFAULT_CURRENCY) != 3 or not DEFAULT_CURRENCY.isalpha():
    raise ImproperlyConfigured(
        f"DEFAULT_CURRENCY must be an ISO 4217 code, got {DEFAULT_CURRENCY!r}"
    )

# The region a phone number without a country code is read in (contacts' phones are stored
# beside their E.164 form, campaigns.phones.phone_e164).
PHONE_REGION = (env_str("PHONE_REGION", "US") or "US").upper()
if PHONE_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(
        f"PHONE_REGION must be a two-letter region code (ISO 3166-1) with a phone plan, "
        f"got {PHONE_REGION!r}"
    )

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# HTTPS hardening: on whenever DEBUG is off; redirect and HSTS are opt-in (they need TLS in front).
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Opt-in: asking browsers to hard-code HTTPS for the whole domain is hard to take back.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if SECURE_HSTS_PRELOAD and SECURE_HSTS_SECONDS < 31536000:
    raise ImproperlyConfigured(
        "DJANGO_HSTS_PRELOAD needs DJANGO_HSTS_SECONDS of at least 31536000 (one year), "
        f"got {SECURE_HSTS_SECONDS}"
    )
# Health probes come from the orchestrator or proxy straight to gunicorn over plain HTTP; a
# redirect to HTTPS would send them to the public address (or nowhere). They hold no secrets.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SESSION_COOKIE_SECURE = not DEBUG and env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp), in DEBUG too, so that a page that
# breaks under it breaks on the developer's machine first. Nothing inline: scripts and styles
# come from this site's static files; views that need more widen it for themselves (the API
# docs, config/urls.py). See docs/deploy.md "Content-Security-Policy".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
}

# Request bodies are capped: the batch endpoint's 1,000 events fit well below this.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Email (report delivery).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# A mail server that stops answering fails the send (retried later) instead of holding a worker
# until the task time limit.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "reports@localhost")
# The weekly verdict is also posted to this Slack-compatible incoming webhook when set
# (reports.delivery); empty: email only. Posted with a timeout, never retried past a success.
VERDICT_SLACK_WEBHOOK_URL = env_str("VERDICT_SLACK_WEBHOOK_URL", "") or ""
if VERDICT_SLACK_WEBHOOK_URL and not VERDICT_SLACK_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(
        # Not repeated: the address is the webhook's secret.
        "VERDICT_SLACK_WEBHOOK_URL must be an http(s) address"
    )
VERDICT_SLACK_TIMEOUT = env_int("VERDICT_SLACK_TIMEOUT", 10)

# Celery: a Redis broker when REDIS_URL is set; otherwise tasks run eagerly in the caller.
REDIS_URL = env_str("REDIS_URL") or None
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL
# Eager (in-process) without a broker; the test suite also stays eager with one, except the
# real-worker tests, which switch it off for their duration.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", REDIS_URL is None)

# The report pages' figures for closed periods are cached (reports.dashboard.period_cached) and
# checked against the days changed since; shared through Redis when there is one.
REPORT_CACHE_SECONDS = env_int("REPORT_CACHE_SECONDS", 24 * 3600)
# The data-driven models (markov, shapley) answer "insufficient data" below this many
# conversions with a touch in the period, rather than a number too noisy to act on.
DATA_DRIVEN_MIN_CONVERSIONS = env_int("DATA_DRIVEN_MIN_CONVERSIONS", 50)
# Redis is optional at run time: every call to it gives up within a second or two, and the cache
# fails open (config.cache), so a Redis outage slows nothing and answers no 500.
REDIS_CONNECT_TIMEOUT = 1
REDIS_TIMEOUT = 5
CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "social-roi",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
                "socket_timeout": REDIS_TIMEOUT,
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 660)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than the hard time limit, so a slow task is never redelivered while it still runs.
    "visibility_timeout": CELERY_TASK_TIME_LIMIT * 2,
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_timeout": REDIS_TIMEOUT,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
# Sending a job while Redis is away fails fast (one quick retry) instead of holding the request:
# a report's job is its Report row, which the sweeper sends again (reports.services).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The result backend's own retries default to twenty, one second apart: the 19 s a sender
# waited when Redis was down. Results are only read by tests and tools; they may be lost.
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": CELERY_TASK_PUBLISH_RETRY_POLICY}
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "config.api.RolePermissions",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.api.PagePagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["config.api.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env_str("API_THROTTLE_RATE", "20000/hour")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Website capture (connectors.capture): the public form-fill endpoint's limits. Counted in the
# cache per site key, and per client address (hashed) and key; a form fill is a few hundred
# bytes, so a body over the cap is refused before it is read.
CAPTURE_RATE_PER_ADDRESS = env_rate("CAPTURE_RATE_PER_ADDRESS", "20/min")
CAPTURE_RATE_PER_KEY = env_rate("CAPTURE_RATE_PER_KEY", "600/hour")
CAPTURE_MAX_BODY_BYTES = env_int("CAPTURE_MAX_BODY_BYTES", 16 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Social ROI lead tracker API",
    "DESCRIPTION": "Contacts, touchpoints, purchases, campaigns and ROI reports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from the public validator: it would send the schema's address to a third party
    # (and its image is outside the Content-Security-Policy).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "leads.models.Stage",
        "TouchpointKindEnum": "leads.models.Touchpoint.Kind",
        "ChannelKindEnum": "campaigns.models.Channel.Kind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
