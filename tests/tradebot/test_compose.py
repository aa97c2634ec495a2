"""No Docker engine runs here, so the compose file is checked by parsing it."""

from fnmatch import fnmatch

import yaml

from tests.helpers import REPO
from tradebot.config import SETTINGS


def load():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_it_runs_postgres_redis_web_worker_beat_and_the_market_stream_from_one_image():
    services = load()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "market"} <= set(services)
    app_services = [services[name] for name in ("migrate", "web", "worker", "beat", "market")]
    assert {service["image"] for service in app_services} == {"tradebot:latest"}
    assert all(service["build"] == "." for service in app_services)
    assert services["web"]["command"][:3] == ["python", "manage.py", "runweb"]  # WEB_PROCESSES daphne processes
    assert services["worker"]["command"][:4] == ["celery", "-A", "tradebot", "worker"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in services["beat"]["command"]
    assert services["market"]["command"] == ["python", "manage.py", "stream_market"]


def test_the_app_talks_to_the_compose_postgres_and_redis():
    services = load()["services"]
    environment = services["worker"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    known = {setting.name for setting in SETTINGS}
    assert set(environment) <= known
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_image_installs_the_pinned_requirements():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "USER tradebot" in dockerfile


def test_the_image_and_compose_run_the_same_web_server():
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert yaml.safe_load(cmd.removeprefix("CMD ")) == load()["services"]["web"]["command"]


def test_compose_seeds_the_demo_strategies_and_keeps_the_data_directory():
    config = load()
    services = config["services"]
    assert "manage.py seed_demo" in services["migrate"]["command"][-1]  # as manage.py runbot does
    for name in ("migrate", "web", "worker", "beat", "market"):
        assert "app-data:/app/var" in services[name]["volumes"], name
    assert "app-data" in config["volumes"]


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for these patterns: the last matching line wins, ``**/`` matches at any depth."""
    verdict = False
    for pattern in patterns:
        negated, pattern = pattern.startswith("!"), pattern.lstrip("!")
        names = [path, path.rsplit("/", 1)[-1]] if pattern.startswith("**/") else [path]
        if any(fnmatch(name, pattern.removeprefix("**/")) for name in names):
            verdict = not negated
    return verdict


def test_secrets_stay_out_of_the_image():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for secret in (".env", ".env.production", "deploy/prod.env", "var/secret_key", "certs/server.key",
                   "certs/server.pem", "var/tradebot.sqlite3"):
        assert ignored(secret, patterns), secret
    for needed in ("manage.py", "tradebot/settings.py", "exchange/data/BTCUSDT_1m.csv.gz", "requirements.txt"):
        assert not ignored(needed, patterns), needed
