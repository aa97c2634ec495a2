"""Typed, validated reading of the environment.

Every setting the bot understands is declared once in ``SETTINGS`` (name, default, what it does)
and read through one of the typed readers below. A bad value raises ``SettingsError`` with a
one-line explanation; ``manage.py`` prints that line and exits instead of a traceback.
The README's settings table is generated from ``SETTINGS`` (``manage.py settings_table``).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


class SettingsError(ImproperlyConfigured):
    """A setting from the environment has a value the bot cannot use."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False


SETTINGS: list[Setting] = [
    # Core
    Setting("SECRET_KEY", "(generated into TRADEBOT_DATA_DIR/secret_key)",
            "Django's signing key. Set it explicitly in production.", secret=True),
    Setting("DEBUG", "false", "Django debug pages. Never enable on a reachable host."),
    Setting("ALLOWED_HOSTS", "127.0.0.1,localhost", "Comma-separated host names the web server answers."),
    Setting("CSRF_TRUSTED_ORIGINS", "(empty)", "Comma-separated origins (scheme://host[:port]) allowed to POST, "
            "needed behind a reverse proxy."),
    Setting("SECURE_COOKIES", "false", "Mark session/CSRF cookies Secure and enable HSTS/SSL redirect "
            "(set when served over HTTPS)."),
    Setting("MAX_CONCURRENT_REQUESTS", "4", "HTTP requests each web process runs at once, each in a thread with at "
            "most one database connection (1..256); the rest wait their turn. Few threads keep the latency low when "
            "requests are CPU-bound (paper exchange); raise it when the API waits on a remote exchange."),
    Setting("WEB_PROCESSES", "2", "Web server (daphne) processes sharing the port, each on its own core (1..32); "
            "MAX_CONCURRENT_REQUESTS applies to each."),
    Setting("WEB_ACCESS_LOG", "false", "Print one line per HTTP request (daphne's access log); the proxy in front "
            "usually keeps one already."),
    Setting("TRADEBOT_DATA_DIR", "./var", "Where the embedded run keeps its SQLite file, Redis socket and secret key."),
    Setting("DATABASE_URL", "sqlite:///<TRADEBOT_DATA_DIR>/tradebot.sqlite3",
            "sqlite:///path or postgres://user:pass@host:port/name."),
    Setting("DATABASE_POOL_SIZE", "0", "PostgreSQL connections pooled per process (0..256; 0: one connection per "
            "request). manage.py runweb sets it for the web processes only (a connection per thread); leave it 0 "
            "elsewhere (Celery's forked workers must not share a pool)."),
    Setting("REDIS_URL", "(unset: embedded Redis on a unix socket)",
            "redis://host:port/db for the Celery broker and the live-event channel layer."),
    Setting("LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Setting("LOG_FORMAT", "text", "text (key=value lines) or json (one JSON object per line)."),
    Setting("ADMIN_USERNAME", "admin", "Account the embedded run creates on first start (password printed once)."),
    # Security
    Setting("LOGIN_FAILURE_LIMIT", "5", "Failed sign-ins allowed per username and address before the login is "
            "locked (1..100)."),
    Setting("LOGIN_LOCKOUT_MINUTES", "15", "Window (from the first failure) in which those failures count, and how "
            "long the lockout lasts (1..1440)."),
    Setting("ORDER_RATE_LIMIT", "30/min", "Order-changing API requests allowed per user, as N/sec, N/min, N/hour "
            "or N/day; more answer 429."),
    Setting("TOKEN_CACHE_SECONDS", "5", "How long a web process remembers an API token's user (0..300; 0: look it "
            "up on every request). A revoked token or deactivated user is refused at once by the process that "
            "changed it, by the others within this time."),
    # Bot
    Setting("BOT_TIMEZONE", "UTC", "Time zone for daily limits and the daily summary."),
    Setting("CYCLE_KLINE_LIMIT", "200", "Candles fetched per symbol and timeframe each cycle (10..1000)."),
    Setting("CYCLE_LOCK_SECONDS", "120", "How long a cycle may hold a strategy's lock before another may take it "
            "(a holder that died on the same host is replaced at once)."),
    Setting("CYCLE_PAIRS_PER_TASK", "5000", "About how many strategy x symbol pairs one cycle sub-task decides (whole "
            "strategies, those on the same timeframes together; docs/scaling.md). Smaller spreads a cycle over more "
            "workers but fetches a symbol's klines once per sub-task that needs it, which one address's Bybit limit "
            "pays for."),
    Setting("MAX_ORDER_NOTIONAL", "100000", "Largest order value (USDT) the bot or the API will send."),
    # Optimisation
    Setting("OPTIMISE_TRIALS_IN_FLIGHT", "8", "Trials of one optimisation queued or running at once (1..1000): "
            "about twice the worker processes that share it. The trading cycle's tasks wait behind at most these."),
    Setting("OPTIMISE_LEASE_SECONDS", "60", "A trial whose worker gives no sign of life for this long (2..3600) is "
            "taken over by another worker (the same trial, never counted twice); raise it if one backtest of a "
            "trial can take longer."),
    # Exchange
    Setting("EXCHANGE_MODE", "paper", "paper (simulated fills), testnet, demo (Bybit demo trading) or live."),
    Setting("BYBIT_API_KEY", "(empty)", "Bybit API key; required for testnet, demo and live.", secret=True),
    Setting("BYBIT_API_SECRET", "(empty)", "Bybit API secret; required for testnet, demo and live.", secret=True),
    Setting("BYBIT_BASE_URL", "(mode's endpoint)", "Any Bybit-v5-compatible REST endpoint (proxy, simulator)."),
    Setting("BYBIT_WS_URL", "(mode's endpoint)", "Bybit-v5-compatible public WebSocket base, e.g. wss://host."),
    Setting("BYBIT_RECV_WINDOW", "5000", "recv_window in ms for signed requests."),
    Setting("BYBIT_TIMEOUT", "10", "Seconds before a Bybit HTTP call times out."),
    Setting("BYBIT_IP_LIMIT", "550/5", "Bybit requests allowed per address group, as N/S: at most N in any S "
            "seconds, counted in Redis by every process and machine of the group (docs/scaling.md). Bybit allows 600 "
            "per 5 s per IP (a breach is a 403 and a 10-minute ban); a value that could pass more is refused. The 50 "
            "spare are for what else sends from the address and for running without Redis (docs/scaling.md)."),
    Setting("BYBIT_IP_GROUP", "default", "Name of the public IP address this machine sends from (letters, digits, "
            ". _ : -): machines with the same name share one BYBIT_IP_LIMIT window. Give each egress address its own "
            "name; machines behind one NAT share it."),
    Setting("STRATEGY_DIRS", "./user_strategies", "Comma-separated folders whose *.py files hold your strategy "
            "classes (docs/strategies.md), loaded beside the built-ins; a changed file is read at the next cycle."),
    Setting("MARKET_DATA", "replay", "Paper mode's prices: replay (bundled real 1m candles, offline) or bybit "
            "(Bybit's public endpoints)."),
    Setting("REPLAY_SPEED", "1", "Replay mode: bundled minutes that pass per real minute."),
    Setting("PAPER_INITIAL_BALANCE", "10000", "Paper account's starting USDT."),
    Setting("PAPER_FEE_RATE", "0.00055", "Paper taker fee as a fraction (0.00055 = 0.055%)."),
    Setting("PAPER_SLIPPAGE_BPS", "2", "Paper market-order slippage in basis points."),
    # AI
    Setting("OPENAI_API_KEY", "(empty)", "Key for AI confirmation. Without it, strategies that need AI do not trade.",
            secret=True),
    Setting("OPENAI_BASE_URL", "https://api.openai.com/v1", "Any OpenAI-compatible server (e.g. a local model)."),
    Setting("OPENAI_MODEL", "gpt-4o-mini", "Chat model used for confirmations."),
    Setting("OPENAI_TIMEOUT", "20", "Seconds before an AI call times out."),
    Setting("OPENAI_MAX_RETRIES", "2", "Retries on rate limits, 5xx and timeouts (0..5)."),
    Setting("OPENAI_PRICE_INPUT_PER_MTOK", "0.15", "USD per million prompt tokens, for the cost report."),
    Setting("OPENAI_PRICE_OUTPUT_PER_MTOK", "0.60", "USD per million completion tokens, for the cost report."),
    # Notifications
    Setting("TELEGRAM_ENABLED", "false", "Send notifications to Telegram."),
    Setting("TELEGRAM_BOT_TOKEN", "(empty)", "Telegram Bot API token.", secret=True),
    Setting("TELEGRAM_CHAT_ID", "(empty)", "Chat that receives the messages."),
    Setting("TELEGRAM_API_BASE_URL", "https://api.telegram.org", "Bot API base URL (a proxy or a local fake)."),
    Setting("TELEGRAM_TIMEOUT", "10", "Seconds before a Telegram API call times out (1..60)."),
    Setting("TELEGRAM_COMMANDS_ENABLED", "(TELEGRAM_ENABLED)", "Run the Telegram control bot (manage.py "
            "telegram_bot, a part of runbot and of docker compose): /status, /profit, /pause, /stopentry, /forceexit "
            "... from chats linked to a user (docs/telegram.md). Needs TELEGRAM_BOT_TOKEN, not TELEGRAM_CHAT_ID."),
    Setting("TELEGRAM_POLL_TIMEOUT", "30", "Seconds each getUpdates long poll of the control bot waits for a "
            "command (1..50); a command is answered as soon as it arrives."),
    Setting("EMAIL_NOTIFICATIONS_ENABLED", "false", "Send notifications by email."),
    Setting("EMAIL_URL", "console://", "smtp://user:pass@host:port, smtp+tls://..., smtp+ssl://..., console:// or "
            "locmem://.", secret=True),
    Setting("NOTIFY_EMAIL_TO", "(empty)", "Comma-separated recipients."),
    Setting("NOTIFY_EMAIL_FROM", "tradebot@localhost", "Sender address."),
    Setting("NOTIFY_EVENTS", "trade_opened,trade_closed,strategy_paused,errors,reconciliation,daily_summary",
            "Which events are sent."),
    Setting("TELEGRAM_EVENTS", "(NOTIFY_EVENTS)", "Events sent to Telegram (a subset of NOTIFY_EVENTS)."),
    Setting("EMAIL_EVENTS", "(NOTIFY_EVENTS)", "Events sent by email (a subset of NOTIFY_EVENTS), e.g. "
            "daily_summary,errors."),
    Setting("DAILY_SUMMARY_HOUR", "20", "Hour (0-23, BOT_TIMEZONE) of the daily summary."),
]

SECRET_SETTING_NAMES = tuple(s.name for s in SETTINGS if s.secret)


class Env:
    """Reads typed values from a mapping and remembers every problem it saw."""

    def __init__(self, environ: dict[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def fail(self, name: str, message: str):
        raise SettingsError(f"{name}: {message}")

    def str(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None else value

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.fail(name, f"expected true or false, got {value!r}")

    def int(self, name: str, default: int, *, min_value: int | None = None, max_value: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"expected a whole number, got {value!r}")
        self._check_range(name, number, min_value, max_value)
        return number

    def decimal(self, name: str, default: str, *, min_value: Decimal | None = None,
                max_value: Decimal | None = None) -> Decimal:
        value = self.raw(name) or default
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.fail(name, f"expected a number, got {value!r}")
        if not number.is_finite():
            self.fail(name, f"expected a finite number, got {value!r}")
        self._check_range(name, number, min_value, max_value)
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.raw(name) or default).lower()
        if value not in choices:
            self.fail(name, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def list(self, name: str, default: list[str]) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.raw(name) or default
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            self.fail(name, f"expected a {'/'.join(schemes)} URL like {schemes[0]}://host, got {value!r}")
        return value.rstrip("/")

    def request_window(self, name: str, default: str, *, limit: int, per_seconds: float) -> tuple[int, float]:
        """"N/S": at most N requests in any S seconds; refused when a window of ``per_seconds`` could see more than
        ``limit`` (N/S allows N per started S, so 110/1 allows 550 in 5 s, 400/10 allows 400)."""
        value = self.raw(name) or default
        count, _, seconds = value.partition("/")
        try:
            requests, window = int(count), float(seconds)
        except ValueError:
            self.fail(name, f"expected N/S (at most N requests in any S seconds), e.g. {default}, got {value!r}")
        if requests < 1 or not 0.1 <= window <= 3600:
            self.fail(name, f"expected N >= 1 requests in S seconds between 0.1 and 3600, got {value!r}")
        worst = requests * max(1, -(-per_seconds // window))
        if worst > limit:
            self.fail(name, f"{value} lets up to {worst:.0f} requests through in {per_seconds:g} s, over the "
                            f"exchange's {limit} per {per_seconds:g} s per IP (a breach is a 403 and a 10-minute ban); "
                            f"use at most {limit}/{per_seconds:g}, e.g. {default}")
        return requests, window

    def name(self, name: str, default: str) -> str:
        """A short identifier: letters, digits and . _ : - (at most 100)."""
        value = self.raw(name) or default
        if len(value) > 100 or not all(char.isascii() and (char.isalnum() or char in "._:-") for char in value):
            self.fail(name, f"expected up to 100 letters, digits, '.', '_', ':' or '-', got {value!r}")
        return value

    def _check_range(self, name, number, min_value, max_value):
        if min_value is not None and number < min_value:
            self.fail(name, f"must be at least {min_value}, got {number}")
        if max_value is not None and number > max_value:
            self.fail(name, f"must be at most {max_value}, got {number}")


def parse_database_url(url: str, base_dir: Path) -> dict:
    """Turn DATABASE_URL into Django's DATABASES['default'], refusing anything ambiguous."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc:
            raise SettingsError(
                f"DATABASE_URL: a SQLite URL has no host; use sqlite:///relative/path or sqlite:////absolute/path, "
                f"got {url!r}")
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        if not path:
            raise SettingsError(f"DATABASE_URL: the SQLite URL names no file, got {url!r}")
        if path == ":memory:":  # a database that lives as long as the process (the benchmarks' settings)
            return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
        name = Path(path) if Path(path).is_absolute() else base_dir / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(name),
            # Several processes (web, worker, beat) share the file: WAL lets readers run beside the writer,
            # IMMEDIATE takes the write lock up front so two writers queue instead of deadlocking.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not name:
            raise SettingsError(
                f"DATABASE_URL: expected postgres://user:password@host:port/database, got {redact_url(url)!r}")
        try:
            port = parts.port
        except ValueError:
            raise SettingsError(f"DATABASE_URL: the port is not a number in {redact_url(url)!r}") from None
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname,
            "PORT": port or 5432,
            # One connection per request or task, closed at its end; the web processes pool theirs instead
            # (DATABASE_POOL_SIZE, set by manage.py runweb). A kept connection (CONN_MAX_AGE) is per thread, and
            # under Django's ASGI handler every request had a thread of its own: PostgreSQL ran out of connections.
            "CONN_MAX_AGE": 0,
            "OPTIONS": options,
        }
    raise SettingsError(
        f"DATABASE_URL: unsupported scheme {parts.scheme or '(none)'!r}; use sqlite:///path or "
        f"postgres://user:password@host:port/database")


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to print."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def embedded_redis_socket(data_dir: Path) -> Path:
    """Where the embedded Redis listens. Unix socket paths must stay under 108 bytes."""
    path = data_dir / "redis.sock"
    if len(str(path).encode()) < 100:
        return path
    import hashlib

    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"tradebot-{digest}.sock"


def load_or_create_secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".secret_key.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(temporary, path)  # atomic: if two processes race, exactly one key wins
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def parse_email_url(url: str) -> dict:
    """EMAIL_URL to Django's EMAIL_* settings: smtp[+tls|+ssl]://user:pass@host:port, console://, locmem://."""
    parts = urlsplit(url)
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "dummy": "django.core.mail.backends.dummy.EmailBackend",
    }
    if parts.scheme in backends:
        return {"EMAIL_BACKEND": backends[parts.scheme]}
    if parts.scheme not in {"smtp", "smtp+tls", "smtp+ssl"} or not parts.hostname:
        raise SettingsError(
            f"EMAIL_URL: expected smtp://user:password@host:port (or smtp+tls://, smtp+ssl://, console://, "
            f"locmem://), got {redact_url(url)!r}")
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(f"EMAIL_URL: the port is not a number in {redact_url(url)!r}") from None
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if parts.scheme == "smtp+ssl" else 587 if parts.scheme == "smtp+tls" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtp+ssl",
        "EMAIL_TIMEOUT": 10,
    }
