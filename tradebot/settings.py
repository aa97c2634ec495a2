"""Django settings, all read from the environment through ``tradebot.config``.

Every variable is listed, with its default and meaning, in ``tradebot.config.SETTINGS`` and in the
README's settings table. A bad value stops start-up with a one-line message.
"""

import re
from decimal import Decimal
from pathlib import Path

from tradebot.config import (
    SECRET_SETTING_NAMES,
    Env,
    SettingsError,
    embedded_redis_socket,
    load_or_create_secret_key,
    parse_database_url,
    parse_email_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

DATA_DIR = Path(env.str("TRADEBOT_DATA_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env.str("SECRET_KEY") or load_or_create_secret_key(DATA_DIR)
DEBUG = env.bool("DEBUG", False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise SettingsError(f"CSRF_TRUSTED_ORIGINS: {_origin!r} needs a scheme, e.g. https://{_origin}")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "channels",
    "django_htmx",
    "core",
    "core.notifications",
    "exchange",
    "strategies",
    "ai",
    "trades",
    "trades.optimise",
    "dashboard",
    "chat",
    "tradebot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.LoginRequiredForPagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.SingleValuedQueryMiddleware",
    "core.middleware.RedisUnavailableMiddleware",  # a view that needs Redis while it is down: 503, not 500
]

ROOT_URLCONF = "tradebot.urls"
WSGI_APPLICATION = "tradebot.wsgi.application"
ASGI_APPLICATION = "tradebot.asgi.application"

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
                "dashboard.context_processors.bot",
            ],
        },
    },
]

# Database
DATABASE_URL = env.str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'tradebot.sqlite3'}")
DATABASES = {"default": parse_database_url(DATABASE_URL, BASE_DIR)}
# Only the web server's processes pool (``manage.py runweb`` sets it for them): Celery's prefork children must not
# inherit a parent's pool, and one-off commands gain nothing from one.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", 0, min_value=0, max_value=256)
if DATABASE_POOL_SIZE and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": min(2, DATABASE_POOL_SIZE), "max_size": DATABASE_POOL_SIZE,
                                               "timeout": 10}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: an external server, or the embedded one that `manage.py runbot` supervises.
REDIS_URL = env.str("REDIS_URL")
EMBEDDED_REDIS = REDIS_URL == ""
REDIS_SOCKET = embedded_redis_socket(DATA_DIR)
if REDIS_URL:
    env.url("REDIS_URL", REDIS_URL, ("redis", "rediss"))
    CELERY_BROKER_URL = REDIS_URL
    _channel_host = {"address": REDIS_URL, "socket_timeout": None, "socket_connect_timeout": 2}
    _cache_location = REDIS_URL
else:
    CELERY_BROKER_URL = f"redis+socket://{REDIS_SOCKET}?virtual_host=0"
    _channel_host = {"address": f"unix://{REDIS_SOCKET}?db=1", "socket_timeout": None, "socket_connect_timeout": 2}
    _cache_location = f"unix://{REDIS_SOCKET}?db=2"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py's default 5 s read timeout kills channel-layer consumers: they block longer than that. Connecting
        # gives up after 2 s, so a publish with Redis down costs 2 s, not the OS's TCP timeout.
        "CONFIG": {"hosts": [_channel_host], "prefix": "tradebot"},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _cache_location,
        "KEY_PREFIX": "tradebot",
        "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 2},
    }
}

# Celery
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker ...
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # ... which is safe because every order has an idempotent id.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# Auth
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
ADMIN_USERNAME = env.str("ADMIN_USERNAME", "admin")

MAX_CONCURRENT_REQUESTS = env.int("MAX_CONCURRENT_REQUESTS", 4, min_value=1, max_value=256)  # tradebot.http
WEB_PROCESSES = env.int("WEB_PROCESSES", 2, min_value=1, max_value=32)  # manage.py runweb
WEB_ACCESS_LOG = env.bool("WEB_ACCESS_LOG", False)
TOKEN_CACHE_SECONDS = env.int("TOKEN_CACHE_SECONDS", 5, min_value=0, max_value=300)  # core.security

# Brute force and runaway scripts: counted in the shared cache (Redis), so every web process sees the same counts.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, min_value=1, max_value=100)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", 15, min_value=1, max_value=1440)
ORDER_RATE_LIMIT = env.str("ORDER_RATE_LIMIT", "30/min")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", ORDER_RATE_LIMIT):
    raise SettingsError(f"ORDER_RATE_LIMIT: expected requests per period like 30/min, got {ORDER_RATE_LIMIT!r}")

SECURE_COOKIES = env.bool("SECURE_COOKIES", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = SECURE_COOKIES
SECURE_HSTS_SECONDS = 31536000 if SECURE_COOKIES else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_COOKIES
SECURE_HSTS_PRELOAD = SECURE_COOKIES
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_COOKIES else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# I18n
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
BOT_TIMEZONE = env.str("BOT_TIMEZONE", "UTC")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(BOT_TIMEZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise SettingsError(f"BOT_TIMEZONE: unknown time zone {BOT_TIMEZONE!r}, e.g. UTC or Europe/Berlin") from None

# Static files: whitenoise serves them from the app folders, so no collectstatic step is needed to run.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# REST framework and the OpenAPI schema
REST_FRAMEWORK = {
    # Token first: DRF answers a missing or bad credential with 401 and the first class's WWW-Authenticate
    # ("Token"); with the session first (which names no scheme) it was 403. A request without a token header
    # still signs in by its session, with the same CSRF check.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.security.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "tradebot API",
    "DESCRIPTION": "Self-hosted Bybit trading bot. Every endpoint requires a session or a token "
    "(`Authorization: Token <key>`). Reads need nothing more; writes need a Django permission (403 names the one "
    "missing; the groups viewer, trader and strategist grant them). Endpoints that place, change, close or cancel "
    "orders also answer 403 when the "
    "exchange is not paper and the user's live trading switch is off (admin: Bot › Operator settings) or the "
    "order is above the user's max order notional, and 429 beyond ORDER_RATE_LIMIT requests per user.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the installed sidecar package: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Bot
CYCLE_KLINE_LIMIT = env.int("CYCLE_KLINE_LIMIT", 200, min_value=10, max_value=1000)
CYCLE_LOCK_SECONDS = env.int("CYCLE_LOCK_SECONDS", 120, min_value=30, max_value=3600)
CYCLE_PAIRS_PER_TASK = env.int("CYCLE_PAIRS_PER_TASK", 5000, min_value=1, max_value=1_000_000)
MAX_ORDER_NOTIONAL = env.decimal("MAX_ORDER_NOTIONAL", "100000", min_value=Decimal("1"))

# Optimisation (trades.optimise): trials are Celery tasks of the same workers.
OPTIMISE_TRIALS_IN_FLIGHT = env.int("OPTIMISE_TRIALS_IN_FLIGHT", 8, min_value=1, max_value=1000)
OPTIMISE_LEASE_SECONDS = env.int("OPTIMISE_LEASE_SECONDS", 60, min_value=2, max_value=3600)

# Exchange
EXCHANGE_MODE = env.choice("EXCHANGE_MODE", "paper", ("paper", "testnet", "demo", "live"))
BYBIT_API_KEY = env.str("BYBIT_API_KEY")
BYBIT_API_SECRET = env.str("BYBIT_API_SECRET")
BYBIT_BASE_URL = env.url("BYBIT_BASE_URL", "", ("http", "https")) if env.raw("BYBIT_BASE_URL") else ""
BYBIT_WS_URL = env.url("BYBIT_WS_URL", "", ("ws", "wss")) if env.raw("BYBIT_WS_URL") else ""
BYBIT_RECV_WINDOW = env.int("BYBIT_RECV_WINDOW", 5000, min_value=1000, max_value=60000)
BYBIT_TIMEOUT = env.int("BYBIT_TIMEOUT", 10, min_value=1, max_value=120)
# Bybit's HTTP limit: 600 requests in any 5 s per IP, kept through Redis per address group (exchange.ratelimit).
BYBIT_IP_LIMIT = env.request_window("BYBIT_IP_LIMIT", "550/5", limit=600, per_seconds=5)
BYBIT_IP_GROUP = env.name("BYBIT_IP_GROUP", "default")
if EXCHANGE_MODE != "paper" and not (BYBIT_API_KEY and BYBIT_API_SECRET):
    raise SettingsError(
        f"EXCHANGE_MODE: {EXCHANGE_MODE} trading needs BYBIT_API_KEY and BYBIT_API_SECRET; "
        f"set both, or use EXCHANGE_MODE=paper")
MARKET_DATA = env.choice("MARKET_DATA", "replay", ("replay", "bybit"))
REPLAY_SPEED = env.int("REPLAY_SPEED", 1, min_value=1, max_value=1440)
PAPER_INITIAL_BALANCE = env.decimal("PAPER_INITIAL_BALANCE", "10000", min_value=Decimal("1"))
PAPER_FEE_RATE = env.decimal("PAPER_FEE_RATE", "0.00055", min_value=Decimal("0"), max_value=Decimal("0.01"))
PAPER_SLIPPAGE_BPS = env.decimal("PAPER_SLIPPAGE_BPS", "2", min_value=Decimal("0"), max_value=Decimal("500"))
CANDLE_DATA_DIR = BASE_DIR / "exchange" / "data"
# Relative folders are read from the project directory, like TRADEBOT_DATA_DIR.
STRATEGY_DIRS = [(BASE_DIR / folder).resolve() for folder in env.list("STRATEGY_DIRS", ["user_strategies"])]

# AI
OPENAI_API_KEY = env.str("OPENAI_API_KEY")
OPENAI_BASE_URL = env.url("OPENAI_BASE_URL", "https://api.openai.com/v1", ("http", "https"))
OPENAI_MODEL = env.str("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT = env.int("OPENAI_TIMEOUT", 20, min_value=1, max_value=300)
OPENAI_MAX_RETRIES = env.int("OPENAI_MAX_RETRIES", 2, min_value=0, max_value=5)
OPENAI_PRICE_INPUT_PER_MTOK = env.decimal("OPENAI_PRICE_INPUT_PER_MTOK", "0.15", min_value=Decimal("0"))
OPENAI_PRICE_OUTPUT_PER_MTOK = env.decimal("OPENAI_PRICE_OUTPUT_PER_MTOK", "0.60", min_value=Decimal("0"))

# Notifications
TELEGRAM_ENABLED = env.bool("TELEGRAM_ENABLED", False)
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN")
TELEGRAM_CHAT_ID = env.str("TELEGRAM_CHAT_ID")
TELEGRAM_API_BASE_URL = env.url("TELEGRAM_API_BASE_URL", "https://api.telegram.org", ("http", "https"))
TELEGRAM_TIMEOUT = env.int("TELEGRAM_TIMEOUT", 10, min_value=1, max_value=60)
if TELEGRAM_ENABLED and not (TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID):
    raise SettingsError("TELEGRAM_ENABLED: needs TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID")
# The control bot (chat/, manage.py telegram_bot): commands from linked chats, answered over long polling.
TELEGRAM_COMMANDS_ENABLED = env.bool("TELEGRAM_COMMANDS_ENABLED", TELEGRAM_ENABLED)
TELEGRAM_POLL_TIMEOUT = env.int("TELEGRAM_POLL_TIMEOUT", 30, min_value=1, max_value=50)
if TELEGRAM_COMMANDS_ENABLED and not TELEGRAM_BOT_TOKEN:
    raise SettingsError("TELEGRAM_COMMANDS_ENABLED: needs TELEGRAM_BOT_TOKEN")
EMAIL_NOTIFICATIONS_ENABLED = env.bool("EMAIL_NOTIFICATIONS_ENABLED", False)
NOTIFY_EMAIL_TO = env.list("NOTIFY_EMAIL_TO", [])
if EMAIL_NOTIFICATIONS_ENABLED and not NOTIFY_EMAIL_TO:
    raise SettingsError("EMAIL_NOTIFICATIONS_ENABLED: needs NOTIFY_EMAIL_TO (comma-separated addresses)")
DEFAULT_FROM_EMAIL = env.str("NOTIFY_EMAIL_FROM", "tradebot@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
globals().update(parse_email_url(env.str("EMAIL_URL", "console://")))
NOTIFY_EVENTS = env.list("NOTIFY_EVENTS", ["trade_opened", "trade_closed", "strategy_paused", "errors",
                                           "reconciliation", "daily_summary"])
# Per-channel filters: a channel sends an event only if both NOTIFY_EVENTS and its own list name it.
TELEGRAM_EVENTS = env.list("TELEGRAM_EVENTS", NOTIFY_EVENTS)
EMAIL_EVENTS = env.list("EMAIL_EVENTS", NOTIFY_EVENTS)
_known_events = {"trade_opened", "trade_closed", "strategy_paused", "errors", "reconciliation", "daily_summary"}
for _name, _events in (("NOTIFY_EVENTS", NOTIFY_EVENTS), ("TELEGRAM_EVENTS", TELEGRAM_EVENTS),
                       ("EMAIL_EVENTS", EMAIL_EVENTS)):
    if set(_events) - _known_events:
        raise SettingsError(f"{_name}: unknown event {sorted(set(_events) - _known_events)[0]!r}; "
                            f"known: {', '.join(sorted(_known_events))}")
DAILY_SUMMARY_HOUR = env.int("DAILY_SUMMARY_HOUR", 20, min_value=0, max_value=23)

# Logging: key=value (or JSON) lines, with every known secret value masked.
LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ("debug", "info", "warning", "error")).upper()
LOG_FORMAT = env.choice("LOG_FORMAT", "text", ("text", "json"))
# Besides each secret setting's whole value: the generated SECRET_KEY, and EMAIL_URL's password, which an SMTP
# error can show on its own.
SECRET_VALUES = [value for value in (*(env.raw(name) for name in SECRET_SETTING_NAMES), SECRET_KEY,
                                     globals().get("EMAIL_HOST_PASSWORD")) if value and len(value) >= 4]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logs.RedactSecretsFilter"}},
    "formatters": {"structured": {"()": "core.logs.StructuredFormatter", "fmt": LOG_FORMAT}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.template": {"level": "INFO"},  # its DEBUG lines dump whole template contexts (CSRF token too)
        "daphne": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        "pybit": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "openai": {"level": "WARNING"},
        "telegram": {"level": "WARNING"},  # python-telegram-bot: its DEBUG lines name the Bot API URL (the token)
        "httpx": {"level": "WARNING"},  # one INFO line per request: every long poll of the control bot
        "urllib3": {"level": "WARNING"},
        "websocket": {"level": "WARNING"},
    },
}
