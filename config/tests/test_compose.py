"""No Docker engine runs here: the compose file is checked as data, so it stays valid for users."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_five_services_with_the_right_images_and_commands():
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    # The app image's pg_dump (Debian bookworm: 15) must not be older than the server it backs up.
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert "gunicorn config.wsgi:application" in services["web"]["command"]
    assert "migrate" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_compose_services_have_healthchecks_and_named_volumes():
    compose = _compose()
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert set(compose["volumes"]) == {"postgres-data", "redis-data", "app-var"}
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in ("web", "worker", "beat"):
        app = services[name]
        assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert app["environment"]["DATABASE_URL"].startswith("postgres://")
        assert app["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_dockerfile_runs_gunicorn_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "USER app" in dockerfile
    assert "gunicorn" in dockerfile and "postgresql-client" in dockerfile
