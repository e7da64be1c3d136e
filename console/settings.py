"""Settings for the takeover console, read from the environment.

With nothing set the console runs on embedded services: SQLite and a local lake folder under
var/, and a real Celery worker on kombu's filesystem transport under var/. Every variable is
documented in README.md ("Configuration").
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from csp.constants import NONE, SELF

from console.env import (
    ConfigError,
    check_broker_url,
    check_lake_url,
    check_secret_key,
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    resolve_path,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_choice("DJANGO_ENV", "development", ("development", "test", "production"))
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = resolve_path(BASE_DIR, env_str("CONSOLE_VAR_DIR", "var"))
# Where the console is reached: the start of the absolute links a deliverable carries (a workbook's cells, a
# payload's provenance_url) when no request is there to say it (the worker builds them).
CONSOLE_BASE_URL = env_str("CONSOLE_BASE_URL", "http://127.0.0.1:8000")

SECRET_KEY = check_secret_key("DJANGO_SECRET_KEY", os.environ.get("DJANGO_SECRET_KEY"), production=PRODUCTION)
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ConfigError("DJANGO_DEBUG", os.environ.get("DJANGO_DEBUG", ""), "must be off in production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    # Before django.contrib.auth: its createsuperuser and changepassword run as audited commands.
    "console",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "evidence",
    "promotion",
    "deliverables",
]

MIDDLEWARE = [
    "console.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so static files and every error page carry the policies too.
    "csp.middleware.CSPMiddleware",
    "console.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after authentication: a session past its absolute lifetime is signed out before any view reads it.
    "console.sessions.AbsoluteSessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused for a lockout into the lockout page (console.logins.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"
ASGI_APPLICATION = "console.asgi.application"

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
                "console.context_processors.console",
            ],
        },
    },
]

# --- databases ---------------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL", "sqlite:///" + str(VAR_DIR / "console.sqlite3"))  # absolute: 4 slashes
if _database_url.startswith("sqlite:///") and not _database_url.startswith("sqlite:////"):
    # database_from_url keeps relative paths relative; anchor them at the project, not the cwd.
    _database_url = "sqlite:////" + str(resolve_path(BASE_DIR, _database_url[len("sqlite:///"):])).lstrip("/")
DATABASES = {"default": database_from_url("DATABASE_URL", _database_url)}
_curated_url = os.environ.get("CURATED_DATABASE_URL")
if _curated_url:
    DATABASES["curated"] = database_from_url("CURATED_DATABASE_URL", _curated_url)
    DATABASES["curated"].setdefault("TEST", {})["NAME"] = None
else:
    # Same database, separate alias: curated code always names its alias, so moving curated
    # data to Azure SQL later is a configuration change.
    DATABASES["curated"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["console.routers.CuratedRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth and sessions -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if DJANGO_ENV == "test":
    # Tests create many users; a deliberately slow hash buys nothing there.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The lockout check first: a locked username or address is refused before any password is checked.
AUTHENTICATION_BACKENDS = ["console.logins.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_TIMEOUT_SECONDS", 30 * 60, minimum=60)
SESSION_SAVE_EVERY_REQUEST = True  # idle timeout: every request pushes the expiry forward
# Absolute lifetime: this long after its login a session is signed out however active (console/sessions.py).
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- login throttling (django-axes; see console/logins.py) -------------------------------------
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=0)  # 0: locked until an admin unlocks
# The client address is REMOTE_ADDR; X-Forwarded-For is read only behind this many trusted proxies.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_ENABLED = True
AXES_HANDLER = "console.logins.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either locks, each with its own limit
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_USERNAME  # axes' one limit; LockoutHandler maps both onto it
AXES_COOLOFF_TIME = dt.timedelta(minutes=LOGIN_LOCKOUT_MINUTES) if LOGIN_LOCKOUT_MINUTES else None
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "console.logins.username_key"
AXES_CLIENT_IP_CALLABLE = "console.logins.client_ip"
AXES_LOCKOUT_CALLABLE = "console.logins.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# A success does not wipe the failures: it would let an attacker holding one account reset the
# count of their address between guesses at others. Failures age out with the cool-off instead.
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # the audit trail records every login and logout
AXES_ENABLE_ADMIN = False  # unlocks go through the console's audited page, never a bare admin delete

# --- security (production) ---------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, images and requests from the console's own
# origin only; no inline script or style, no eval, no plugins, never framed, forms post home only.
# htmx runs with eval, script tags in swaps and its injected indicator style off (base.html's
# htmx-config). The API docs page adds data: images for Swagger UI's icons (console/api_docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
# Permissions-Policy (console.middleware.PermissionsPolicyMiddleware): browser features the console
# never uses, denied to the page and anything it could embed. Names Chromium knows (an unknown name
# is an error in the browser's console).
PERMISSIONS_POLICY_DENIED = (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
    "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer", "microphone", "midi",
    "payment", "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "serial",
    "usb", "xr-spatial-tracking",
)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- i18n and time -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static files (served by WhiteNoise; no CDN anywhere) --------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production the files are served from STATICFILES_DIRS by WhiteNoise's finders; only a
# deployment collects them (manage.py collectstatic) into STATIC_ROOT.
STATIC_ROOT = resolve_path(BASE_DIR, env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "staticfiles"))) if PRODUCTION else None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- lake --------------------------------------------------------------------------------------
LAKE_URL = check_lake_url("LAKE_URL", env_str("LAKE_URL", str(VAR_DIR / "lake")))
# ADLS credentials: an account key, a SAS token, or (neither set) DefaultAzureCredential.
LAKE_ACCOUNT_KEY = os.environ.get("LAKE_ACCOUNT_KEY", "")
LAKE_SAS_TOKEN = os.environ.get("LAKE_SAS_TOKEN", "")
LAKE_ENDPOINT = os.environ.get("LAKE_ENDPOINT", "")  # override the DFS endpoint (tests, sovereign clouds)

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = check_broker_url("CELERY_BROKER_URL", env_str("CELERY_BROKER_URL", "filesystem://"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # Above every task's hard time limit (console.checks, E001: the longest, an intake or a load, is 6 h 05): a
    # task that acks late and runs past the timeout would be handed to a second worker. A task whose worker is lost
    # does not wait for it: the beat re-sends jobs whose heartbeat went stale, and a worker takes them over
    # (console.dispatch.resend_lost).
    _visibility_timeout = env_int("CELERY_VISIBILITY_TIMEOUT", 7 * 3600, minimum=1)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": _visibility_timeout,
        # kombu (5.7+) looks for unacknowledged messages to redeliver only on every 10th sweep of 10 s:
        # a task whose worker died would wait up to 100 s past its visibility timeout. Look at every
        # sweep, and sweep at least as often as the timeout.
        "unacked_restore_interval": min(10, _visibility_timeout),
        "unacked_restore_throttle": 1,
    }
    # Several consoles (or test runs) can share one Redis: each keeps its keys under its own prefix.
    if _prefix := env_str("CELERY_REDIS_KEY_PREFIX", ""):
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _prefix
# Results are tracked in our own rows (runs, requests), never in a result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Soft shutdown (Celery 5.5+): on a cold shutdown (SIGQUIT, or SIGTERM when the worker runs with
# REMAP_SIGTERM=SIGQUIT) running tasks get this many seconds to finish; the others are then cancelled and, being
# late-ack, requeued for the next worker (their runs taken over). 0: off, a cold shutdown cancels at once.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env_int("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", 0, minimum=0)
CELERY_TASK_DEFAULT_QUEUE = "console"
CELERY_TASK_ROUTES = {
    "evidence.tasks.*": {"queue": "intake"},
    "console.tasks.*": {"queue": "console"},
    "promotion.tasks.*": {"queue": "promotion"},
    "deliverables.tasks.*": {"queue": "runs"},
}
CONSOLE_WORKER_QUEUES = "console,intake,promotion,runs"  # what `run_console` and the test worker consume
CELERY_TASK_ALWAYS_EAGER = False  # never eager: the console always runs a real worker
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "intake-sweep-abandoned": {"task": "evidence.tasks.intake_sweep", "schedule": 300.0},
    "promotion-sweep-stale-loads": {"task": "promotion.tasks.promotion_sweep", "schedule": 300.0},
    "flags-sweep-lost-runs": {"task": "evidence.tasks.flags_sweep", "schedule": 300.0},
    # On the console queue: a sweep must not wait behind the long runs it may have to fail.
    "runs-sweep-abandoned": {"task": "deliverables.tasks.runs_sweep", "schedule": 300.0,
                             "options": {"queue": "console"}},
    "local-caches-prune": {
        "task": "deliverables.tasks.caches_prune", "schedule": 86400.0, "options": {"queue": "console"}
    },
    "idempotency-keys-sweep": {
        "task": "console.tasks.idempotency_sweep", "schedule": 3600.0, "options": {"queue": "console"}
    },
    "audit-verify-resend-lost": {
        "task": "console.tasks.audit_verify_resend", "schedule": 300.0, "options": {"queue": "console"}
    },
    "audit-verify-chain": {
        "task": "console.tasks.audit_verify_chain",
        "schedule": float(env_int("AUDIT_VERIFY_INTERVAL_SECONDS", 3600, minimum=60)),
        "options": {"queue": "console"},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
# A job still waiting for a worker this long after it was sent (queued, a promotion checking or approved) may have
# lost its message (a broker down at the send, restarted empty, or evicting): the beat's sweepers send it again
# (console.dispatch.resend_lost); the copy expires after the same time, so copies never pile up.
BROKER_RESEND_AFTER_SECONDS = env_int("BROKER_RESEND_AFTER_SECONDS", 600, minimum=1)
# Django's own list, from the environment (e.g. console.E001 for a test worker that shortens the visibility timeout
# on purpose, to prove redelivery).
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_SYSTEM_CHECKS", [])

# --- list filters (django-filter) -------------------------------------------------------------
# A choice filter left empty reads "Any" (django-filter's default is "---------").
FILTERS_EMPTY_CHOICE_LABEL = "Any"

# --- REST framework ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: DRF answers an anonymous call with 401 and the first class's WWW-Authenticate
    # header ("Token"); SessionAuthentication has no such header, and first it made that a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.api.permissions.IsAuthenticatedWithCapability"],
    # DRF's own answers; a refusal for want of a capability is also an `access.refused` event (console.access).
    "EXCEPTION_HANDLER": "console.api.refusals.exception_handler",
    # DRF's three, JSON with limits: a deep, huge or non-finite body is a 400, never a 500 (console/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "console.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "console.api.schema.ConsoleAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "console.api.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeafEnterprise Takeover Console API",
    "DESCRIPTION": "Backend-owned, scoped outputs and the evidence behind them.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "IntakeRunStatusEnum": "evidence.choices.IntakeStatus",
        "ManifestStatusEnum": "evidence.choices.ManifestStatus",
        "KindEnum": "evidence.api.serializers.MISSING_KINDS",
        "PromotionKindEnum": "promotion.choices.PromotionKind",
        "PacketKindEnum": "evidence.choices.PacketKind",
        "GrantStateEnum": "console.choices.GrantState",
        "PromotionStateEnum": "promotion.choices.PromotionState",
        "MissingFlagStatusEnum": "evidence.flags.models.FlagStatus",
        "RunStateEnum": "deliverables.choices.RunState",
        "RunDecisionEnum": "deliverables.choices.Decision",
        "DecisionEnum": "promotion.choices.FlawDecision",  # its name before the runs' decision enum came
    },
    # Swagger UI from the installed sidecar package: no CDN, the console works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- logging -----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One event, one line (console/logs.py): control characters in what a message carries (a username, a
    # file name) are escaped, a message longer than LOG_MAX_MESSAGE_CHARS is cut, a traceback stays on the line;
    # every line names the request id (or task/command correlation id) an error page shows.
    "formatters": {"plain": {
        "()": "console.logs.OneLineFormatter",
        "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        "max_chars": env_int("LOG_MAX_MESSAGE_CHARS", 4000, minimum=200),
    }},
    "filters": {"request_id": {"()": "console.logs.RequestIdFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- console knobs -----------------------------------------------------------------------------
AUDIT_PAGE_SIZE = env_int("AUDIT_PAGE_SIZE", 50, minimum=1)
INTAKE_MAX_UPLOAD_BYTES = env_int("INTAKE_MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1024)
INTAKE_ARCHIVE_MAX_MEMBERS = env_int("INTAKE_ARCHIVE_MAX_MEMBERS", 10_000, minimum=1)
INTAKE_ARCHIVE_MAX_BYTES = env_int("INTAKE_ARCHIVE_MAX_BYTES", 20 * 1024**3, minimum=1024)
INTAKE_ARCHIVE_MAX_RATIO = env_int("INTAKE_ARCHIVE_MAX_RATIO", 200, minimum=1)
# The longest CSV field (UTF-8 bytes) of an export: validation refuses a longer one (CSV_FIELD_TOO_LARGE,
# with its row and column), and every reader of the CSVs (silver, golden packets, previews) reads up to it.
INTAKE_MAX_FIELD_BYTES = env_int("INTAKE_MAX_FIELD_BYTES", 64 * 1024**2, minimum=1024)
# A running intake whose heartbeat is older than this is taken over by a redelivered task.
INTAKE_STALE_SECONDS = env_int("INTAKE_STALE_SECONDS", 300, minimum=1)
# The sweeper fails a running intake silent for this long: past the beat's re-send of a stale one (a takeover).
INTAKE_ABANDONED_SECONDS = env_int("INTAKE_ABANDONED_SECONDS", 7200, minimum=60)
# A loading promotion whose heartbeat is older than this may be taken over by a redelivered task,
# and the sweeper fails it (a live load beats every 64K rows).
PROMOTION_STALE_SECONDS = env_int("PROMOTION_STALE_SECONDS", 900, minimum=1)
# The sweeper fails a loading promotion silent for this long: past the beat's re-send of a stale one.
PROMOTION_ABANDONED_SECONDS = env_int("PROMOTION_ABANDONED_SECONDS", 7200, minimum=60)
# How long a pointer move waits for a lock held by another session of the curated database (a reader
# pinning the pointer, a writer on the version's table) before it gives up for this attempt; the load is
# then retried (promotion.services.load), and fails with the reason after its last attempt.
CURATED_LOCK_TIMEOUT = env_int("CURATED_LOCK_TIMEOUT", 10, minimum=1)
# Tests only (catalogue item 12): the promotion crash point at which the process kills itself for real
# (promotion.faults). Refused outside the test environment.
PROMOTION_CRASH_AT = env_str("PROMOTION_CRASH_AT", "")
if PROMOTION_CRASH_AT and DJANGO_ENV != "test":
    raise ConfigError("PROMOTION_CRASH_AT", PROMOTION_CRASH_AT, "a crash point is for tests only (DJANGO_ENV=test)")
# Tests only (catalogue item 6): the point at which a load sleeps PROMOTION_PAUSE_SECONDS (promotion.faults).
PROMOTION_PAUSE_AT = env_str("PROMOTION_PAUSE_AT", "")
PROMOTION_PAUSE_SECONDS = env_int("PROMOTION_PAUSE_SECONDS", 30, minimum=1)
if PROMOTION_PAUSE_AT and DJANGO_ENV != "test":
    raise ConfigError("PROMOTION_PAUSE_AT", PROMOTION_PAUSE_AT, "a pause point is for tests only (DJANGO_ENV=test)")
# Calculation runs (deliverables.runs): a running run whose heartbeat is older than RUN_STALE_SECONDS may be
# taken over by its redelivered task; older than RUN_ABANDONED_SECONDS, the beat sweeper fails it.
RUN_HEARTBEAT_SECONDS = env_int("RUN_HEARTBEAT_SECONDS", 5, minimum=1)
RUN_STALE_SECONDS = env_int("RUN_STALE_SECONDS", 60, minimum=1)
RUN_ABANDONED_SECONDS = env_int("RUN_ABANDONED_SECONDS", 1800, minimum=60)
# The local caches under VAR_DIR (deliverables.caches: findings copies, provenance row sets) are deleted once unused
# this many days (the beat prunes daily; each is made again when next needed).
LOCAL_CACHE_DAYS = env_int("LOCAL_CACHE_DAYS", 7, minimum=0)
RUN_DUCKDB_MEMORY = os.environ.get("RUN_DUCKDB_MEMORY", "1GB")
# Where a run calculates: "auto" (pushed down into PostgreSQL when the curated store is PostgreSQL, DuckDB over
# the silver Parquet otherwise), "duckdb" or "postgres".
CALCULATION_ENGINE = os.environ.get("CALCULATION_ENGINE", "auto")
# Lineage (deliverables.lineage): every run, reconciliation, deliverable build and publication emits OpenLineage
# run events, written to the lake under lineage/; when OPENLINEAGE_URL is set they are also POSTed to
# <OPENLINEAGE_URL>/api/v1/lineage (Marquez), each waiting at most OPENLINEAGE_TIMEOUT_SECONDS.
OPENLINEAGE_NAMESPACE = env_str("OPENLINEAGE_NAMESPACE", "leaf-takeover-console").strip() or "leaf-takeover-console"
OPENLINEAGE_URL = env_str("OPENLINEAGE_URL", "").strip()
if OPENLINEAGE_URL and not OPENLINEAGE_URL.startswith(("http://", "https://")):
    raise ConfigError("OPENLINEAGE_URL", OPENLINEAGE_URL, "expected an http:// or https:// address (Marquez)")
OPENLINEAGE_TIMEOUT_SECONDS = env_int("OPENLINEAGE_TIMEOUT_SECONDS", 2, minimum=1)
# An API create's Idempotency-Key answers its retries this long (console.idempotency): 24 hours at least.
IDEMPOTENCY_KEY_TTL_SECONDS = env_int("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600, minimum=24 * 3600)
# Uploads stream to disk past this size instead of memory (Django's own threshold, kept small).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
