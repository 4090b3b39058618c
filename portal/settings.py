"""Settings, all read from the environment (see README "Settings" and `.env.example`).

Defaults give the embedded setup: SQLite under `var/`, cache in process, Celery tasks run in process.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default="") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _str(name: str, default: str) -> str:
    """A string setting; an empty value (as in a copied .env.example) means the default."""
    return env.str(name, default="") or default


def _bool(name: str, default: bool) -> bool:
    """Strict boolean: a typo in a security-relevant flag must not silently mean False."""
    raw = env.str(name, default="")
    if raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def _secret_key() -> str:
    """SECRET_KEY from the environment, else generated once into var/ and reused across restarts."""
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _bool("DEBUG", False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.tenancy",
    "portal.core",
    "metrics_app",
    "metrics_in_app",
    "dashboards_app",
    "alerts_app",
    "logs_app",
]

MIDDLEWARE = [
    "portal.core.middleware.RequestMetricsMiddleware",
    "portal.core.client_ip.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.tenancy.token_rights.TokenRightsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.core.middleware.ApiErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.tenancy.context.org_context",
            ],
        },
    },
]

DATABASES = {"default": environ.Env.db_url_config(_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the in-process tasks write.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["timeout"] = 20
else:
    # Persistent connections (seconds; 0: one per request). A new PostgreSQL connection is a backend process
    # start plus authentication: at OTLP's 512-record requests that cost a third of log ingest (measured
    # 26.9 k records/s with a connection per request, 43.0 k with them kept). Checked before reuse, so a
    # restarted database costs one failed check, not an error.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = _str("REDIS_URL", "")
if REDIS_URL:
    # Short socket timeouts: a hung Redis must degrade to a miss quickly (portal.core.cache), not hold requests.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "portal"}}

# Celery: broker and results on Redis when configured, otherwise tasks run in process.
CELERY_BROKER_URL = _str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
# Nothing reads task results: storing none means sending a task needs only the broker, so a Redis outage
# fails the send at once (enqueue_on_commit logs it) instead of hanging on the result store's reconnects.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_BACKEND = _str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = _str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
DEFAULT_FROM_EMAIL = _str("DEFAULT_FROM_EMAIL", "portal@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.tenancy.auth.BearerTokenAuthentication",
        "portal.tenancy.auth.SessionOrgAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.tenancy.permissions.IsOrgMember"],
    "DEFAULT_PAGINATION_CLASS": "portal.core.pagination.PagePagination",
    "DEFAULT_PARSER_CLASSES": [
        "portal.core.parsers.JSONParser",
        "portal.core.parsers.FormParser",
        "portal.core.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Observability portal API",
    "DESCRIPTION": "Org-scoped REST API: organizations, tokens, dashboards, alerts, logs, traces, exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"bearerAuth": []}],
    # Swagger UI assets ship in drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Request bodies: the OTLP and remote-write receivers enforce their own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
INGEST_MAX_BODY_BYTES = env.int("INGEST_MAX_BODY_BYTES", default=8 * 1024 * 1024)

# Backends. Absent URLs mean "not configured"; /readyz reports them as such.
PROMETHEUS_URL = _str("PROMETHEUS_URL", "")
PROMETHEUS_RULES_DIR = Path(_str("PROMETHEUS_RULES_DIR", str(VAR_DIR / "prometheus" / "rules")))
PROMETHEUS_FILE_SD_DIR = Path(_str("PROMETHEUS_FILE_SD_DIR", str(VAR_DIR / "prometheus" / "file_sd")))
ALERTMANAGER_URL = _str("ALERTMANAGER_URL", "")
ALERTMANAGER_CONFIG_FILE = Path(
    _str("ALERTMANAGER_CONFIG_FILE", str(VAR_DIR / "alertmanager" / "alertmanager.yml"))
)
PROMTOOL = _str("PROMTOOL", "promtool")
AMTOOL = _str("AMTOOL", "amtool")
PORTAL_BASE_URL = _str("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# metrics_app: query guards and result cache of the federated Prometheus API.
PROMETHEUS_KIND = env.str("PROMETHEUS_KIND", default="prometheus")  # kind of the PROMETHEUS_URL datasource
METRICS_QUERY_TIMEOUT_SECONDS = env.float("METRICS_QUERY_TIMEOUT_SECONDS", default=30.0)
METRICS_MAX_RANGE_SECONDS = env.int("METRICS_MAX_RANGE_SECONDS", default=32 * 86400)
METRICS_MAX_POINTS = env.int("METRICS_MAX_POINTS", default=11000)
METRICS_MIN_STEP_SECONDS = env.float("METRICS_MIN_STEP_SECONDS", default=1.0)
METRICS_MAX_SERIES = env.int("METRICS_MAX_SERIES", default=10000)
METRICS_MAX_CONCURRENT_PER_ORG = env.int("METRICS_MAX_CONCURRENT_PER_ORG", default=10)
METRICS_CACHE_TTL_SECONDS = env.int("METRICS_CACHE_TTL_SECONDS", default=300)
METRICS_CACHE_RECENT_TTL_SECONDS = env.int("METRICS_CACHE_RECENT_TTL_SECONDS", default=5)

# Encryption key for secrets at rest (datasource passwords, channel webhooks); derived from SECRET_KEY if unset.
FIELD_ENCRYPTION_KEY = _str("FIELD_ENCRYPTION_KEY", "")

# alerts_app: where Alertmanager sends email and PagerDuty events, and how it reaches the portal's
# inbound hook (history + Teams/webhook relay; each receiver's URL is signed with ALERTS_HOOK_SECRET).
ALERTS_SMTP_SMARTHOST = _str("ALERTS_SMTP_SMARTHOST", "localhost:25")
ALERTS_SMTP_FROM = _str("ALERTS_SMTP_FROM", "alerts@localhost")
ALERTS_PAGERDUTY_URL = _str("ALERTS_PAGERDUTY_URL", "https://events.pagerduty.com/v2/enqueue")
ALERTS_HOOK_SECRET = _str("ALERTS_HOOK_SECRET", "")
ALERTS_HOOK_BASE_URL = _str("ALERTS_HOOK_BASE_URL", PORTAL_BASE_URL)
# Where the platform's own alerts (scope="platform", no org label: deploy/prometheus/platform-alerts.yml) go:
# staff email addresses (comma-separated) and/or a webhook an operator runs. Unset: they stay in
# Alertmanager's UI and API only. Operator settings, not org input: Alertmanager sends to them directly.
PLATFORM_ALERTS_EMAIL = _str("PLATFORM_ALERTS_EMAIL", "")
PLATFORM_ALERTS_WEBHOOK_URL = _str("PLATFORM_ALERTS_WEBHOOK_URL", "")
PLATFORM_ALERTS_GROUP_WAIT = _str("PLATFORM_ALERTS_GROUP_WAIT", "30s")

# Login throttling: failures per window before the account or the IP must wait.
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=20)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=900)
# Password reset mails per window, per address asked for and per client IP (429 past them).
PASSWORD_RESETS_PER_EMAIL = env.int("PASSWORD_RESETS_PER_EMAIL", default=3)
PASSWORD_RESETS_PER_IP = env.int("PASSWORD_RESETS_PER_IP", default=10)
PASSWORD_RESET_WINDOW_SECONDS = env.int("PASSWORD_RESET_WINDOW_SECONDS", default=3600)

# Transport. Behind TLS turn on the secure cookies and HSTS. Behind a reverse proxy list it in
# TRUSTED_PROXIES (addresses or CIDRs): only from those peers is X-Forwarded-For read for the client's
# address (per-IP login throttling, audit), and SECURE_PROXY_SSL_HEADER (e.g. X-Forwarded-Proto) honoured.
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapes may stay on plain HTTP
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError as _e:  # a typo must fail the start, not trust the wrong peers
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from _e
_proxy_proto = _str("SECURE_PROXY_SSL_HEADER", "")
if _proxy_proto:
    if not TRUSTED_PROXIES:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER needs TRUSTED_PROXIES: without a proxy in front, any "
                                   "client could claim HTTPS")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_proto.upper().replace("-", "_"), "https")

METRICS_REQUIRE_TOKEN = _str("METRICS_TOKEN", "")
EXPORTS_DIR = Path(_str("EXPORTS_DIR", str(VAR_DIR / "exports")))
# logs_app exports: hours a finished export (and its link) lives; bytes of exports kept per org.
EXPORTS_TTL_HOURS = env.int("EXPORTS_TTL_HOURS", default=72)
EXPORTS_QUOTA_BYTES = env.int("EXPORTS_QUOTA_BYTES", default=2 * 1024**3)

# logs_app store and OTLP ingest: store ("auto" = PostgreSQL if the DB is, else SQLite), staff
# maximum retention, per-record limits, which attributes carry correlation/user ids, overload limits.
LOGS_STORE = _str("LOGS_STORE", "auto")
# ClickHouse for logs/traces past one machine: chdb:///dir (in process) or clickhouse://user:pw@host:8123/db.
LOGS_STORE_URL = _str("LOGS_STORE_URL", "")
if LOGS_STORE_URL and LOGS_STORE_URL.split(":", 1)[0] not in ("chdb", "clickhouse", "clickhouses"):
    raise ImproperlyConfigured(f"LOGS_STORE_URL={LOGS_STORE_URL!r}: expected chdb:///dir or clickhouse://host:8123/db")
# With LOGS_STORE_URL=...?layout=otel: the resource attribute that carries the org in the Collector's tables.
LOGS_COLLECTOR_ORG_ATTRIBUTE = _str("LOGS_COLLECTOR_ORG_ATTRIBUTE", "org_id")
LOGS_MAX_RETENTION_DAYS = env.int("LOGS_MAX_RETENTION_DAYS", default=90)
LOGS_MAX_BODY_CHARS = env.int("LOGS_MAX_BODY_CHARS", default=65536)
LOGS_MAX_ATTRIBUTE_CHARS = env.int("LOGS_MAX_ATTRIBUTE_CHARS", default=4096)
LOGS_MAX_ATTRIBUTES = env.int("LOGS_MAX_ATTRIBUTES", default=128)
LOGS_CORRELATION_ATTRIBUTES = env.list("LOGS_CORRELATION_ATTRIBUTES",
                                       default=["correlation_id", "request_id", "correlation.id", "x_request_id"])
LOGS_USER_ATTRIBUTES = env.list("LOGS_USER_ATTRIBUTES", default=["user_id", "user.id", "enduser.id"])
# Security investigation (logs_app/investigation.py): which log records are security events, and the
# attributes that carry a client address or an API key, for the per-address and per-key timelines.
SECURITY_EVENTS_QUERY = _str("SECURITY_EVENTS_QUERY", "auth_failure OR event=auth_failure OR event=login_failed")
SECURITY_IP_ATTRIBUTES = env.list("SECURITY_IP_ATTRIBUTES", default=["client.address", "client_ip", "ip",
                                                                      "net.peer.ip"])
SECURITY_KEY_ATTRIBUTES = env.list("SECURITY_KEY_ATTRIBUTES", default=["api_key", "api_key_id", "token_id"])
# Log attributes holding a duration, with the unit of a plain number in them ("123ms"-style strings carry their
# own); `latency>500ms` (LOGS_DURATION_FIELDS) reads the first of them a record has (docs/logs.md, Durations).
LOGS_DURATION_ATTRIBUTES = env.dict("LOGS_DURATION_ATTRIBUTES", default={
    "latency": "ms", "duration": "ms", "elapsed": "ms", "latency_ms": "ms", "duration_ms": "ms", "elapsed_ms": "ms",
    "http.server.request.duration": "s"})
LOGS_DURATION_FIELDS = env.list("LOGS_DURATION_FIELDS", default=["latency", "duration", "elapsed"])
LOGS_INGEST_MAX_CONCURRENCY = env.int("LOGS_INGEST_MAX_CONCURRENCY", default=16)
LOGS_INGEST_RECORDS_PER_SECOND = env.int("LOGS_INGEST_RECORDS_PER_SECOND", default=0)
# Seconds one log/trace read may run (statement_timeout on PostgreSQL, a progress handler on SQLite): 504 past it.
LOGS_QUERY_TIMEOUT = env.float("LOGS_QUERY_TIMEOUT", default=10.0)
if LOGS_QUERY_TIMEOUT <= 0:
    raise ImproperlyConfigured(f"LOGS_QUERY_TIMEOUT={LOGS_QUERY_TIMEOUT}: expected a number of seconds above 0")
# Seconds between an open live tail's checks that its member still belongs to the org (removal ends it).
LOGS_TAIL_RECHECK_SECONDS = env.float("LOGS_TAIL_RECHECK_SECONDS", default=5.0)

# metrics_in_app: default per-org ingest limits (staff override per org), the forwarding
# queue and retries.
METRICS_IN_SAMPLES_PER_SECOND = env.int("METRICS_IN_SAMPLES_PER_SECOND", default=200_000)
METRICS_IN_MAX_ACTIVE_SERIES = env.int("METRICS_IN_MAX_ACTIVE_SERIES", default=200_000)
METRICS_IN_MAX_LABELS_PER_SERIES = env.int("METRICS_IN_MAX_LABELS_PER_SERIES", default=40)
METRICS_IN_MAX_LABEL_NAME_LENGTH = env.int("METRICS_IN_MAX_LABEL_NAME_LENGTH", default=128)
METRICS_IN_MAX_LABEL_VALUE_LENGTH = env.int("METRICS_IN_MAX_LABEL_VALUE_LENGTH", default=2048)
METRICS_IN_ACTIVE_WINDOW_SECONDS = env.int("METRICS_IN_ACTIVE_WINDOW_SECONDS", default=1200)
METRICS_IN_QUEUE_MAX_SAMPLES = env.int("METRICS_IN_QUEUE_MAX_SAMPLES", default=1_000_000)
METRICS_IN_BATCH_SERIES = env.int("METRICS_IN_BATCH_SERIES", default=5000)
METRICS_IN_FORWARD_TIMEOUT_SECONDS = env.float("METRICS_IN_FORWARD_TIMEOUT_SECONDS", default=5.0)
METRICS_IN_FORWARD_DEADLINE_SECONDS = env.float("METRICS_IN_FORWARD_DEADLINE_SECONDS", default=8.0)
METRICS_IN_RETRY_BASE_SECONDS = env.float("METRICS_IN_RETRY_BASE_SECONDS", default=0.1)
METRICS_IN_RETRY_MAX_SECONDS = env.float("METRICS_IN_RETRY_MAX_SECONDS", default=2.0)
METRICS_IN_RETRY_AFTER_SECONDS = env.int("METRICS_IN_RETRY_AFTER_SECONDS", default=5)
# The outbound-URL guard (portal/backends/outbound.py): hosts, host:port pairs or CIDRs that notification
# channels and scrape targets may reach although not public (development receivers). Empty: only public
# addresses. Never opens cloud metadata or the platform's own services.
OUTBOUND_URL_ALLOW = env.list("OUTBOUND_URL_ALLOW", default=[])
for _retired, _current in (("METRICS_IN_SCRAPE_ALLOW_NETS", "OUTBOUND_URL_ALLOW"),):
    # A renamed variable silently ignored would close networks an operator opened on purpose.
    if env.str(_retired, default=""):
        raise ImproperlyConfigured(f"{_retired} is now {_current} (it covers scrape targets and notification "
                                   "channels alike); rename the variable")
# Where Prometheus reaches the portal's scrape relay (targets with auth); default PORTAL_BASE_URL.
METRICS_IN_RELAY_BASE_URL = _str("METRICS_IN_RELAY_BASE_URL", PORTAL_BASE_URL)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": _str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
