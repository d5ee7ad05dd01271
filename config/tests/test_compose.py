"""
No Docker engine runs here: the compose file is checked as data (after YAML merge keys are applied), so
it stays valid for users and works as the README says.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("postgres", "redis", "clamav", "web", "nginx", "worker", "beat")
APPS = ("web", "worker", "beat")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_its_services_with_the_right_images_and_commands():
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "clamav", "migrate", "web", "nginx", "worker", "beat"}
    # The app image's pg_dump (Debian bookworm: 15) must not be older than the server it backs up.
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert services["clamav"]["image"].startswith("clamav/clamav:")
    assert "gunicorn config.wsgi:application" in " ".join(services["web"]["command"])
    # Migrations run once, in their own one-shot service, never in each web container as it starts.
    assert "migrate" not in " ".join(services["web"]["command"])
    # The deploy's migrate step backs a database with data up before it migrates (ops/upgrades.py).
    assert "manage.py migrate_with_backup --noinput" in services["migrate"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_long_running_services_restart_and_the_one_shot_migrate_does_not():
    services = _compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"


def test_every_long_running_service_has_a_healthcheck():
    services = _compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    assert services["web"]["healthcheck"]["test"][-1] == "http://localhost:8000/healthz"
    # Beat's health is its heartbeat (ops.beat), read by a management command.
    assert services["beat"]["healthcheck"]["test"][:4] == ["CMD", "python", "manage.py", "beat_alive"]
    assert "clamdcheck" in " ".join(services["clamav"]["healthcheck"]["test"])
    assert services["nginx"]["healthcheck"]["test"][-1] == "http://localhost/healthz"
    # freshclam downloads the signatures before clamd answers: minutes on a first start.
    assert services["clamav"]["healthcheck"]["start_period"]


def test_apps_wait_for_the_databases_and_the_migrate_step():
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in APPS:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["clamav"]["condition"] in ("service_started", "service_healthy")


def test_apps_get_the_database_redis_and_clamav_urls_and_production_settings():
    services = _compose()["services"]
    for name in (*APPS, "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production", name
        # Production settings refuse to start without it (or CLAMAV_DISABLED=true).
        assert env["CLAMAV_URL"] == "tcp://clamav:3310", name
        assert services[name]["env_file"] == ".env"


def test_named_volumes():
    compose = _compose()
    services = compose["services"]
    assert set(compose["volumes"]) == {"postgres-data", "redis-data", "app-var", "public-media", "clamav-db"}
    # nginx sees the public media, read-only, and nothing else of the app's files.
    assert [v for v in services["nginx"]["volumes"] if not v.startswith("./")] == [
        "public-media:/srv/media:ro"
    ]
    assert "public-media:/app/var/media" in services["web"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "clamav-db:/var/lib/clamav" in services["clamav"]["volumes"]


def test_readme_env_sets_the_allowed_hosts_the_compose_setup_is_reached_by():
    readme = (ROOT / "README.md").read_text()
    docker = readme[readme.index("## Docker") :]
    block = docker[: docker.index("docker compose up --build\n```")]
    match = re.search(r"DJANGO_ALLOWED_HOSTS=([\w.,:-]+)", block)
    assert match, "the README's .env must set DJANGO_ALLOWED_HOSTS"
    assert {"localhost", "127.0.0.1"} <= set(match.group(1).split(","))


def test_dockerfile_runs_gunicorn_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "USER app" in dockerfile
    assert "gunicorn" in dockerfile and "postgresql-client" in dockerfile
    # collectstatic imports production settings at build time, where there is no clamd.
    assert "CLAMAV_DISABLED=true" in dockerfile


def test_nginx_is_the_entrance_and_gunicorn_is_not_published():
    compose = _compose()
    services = compose["services"]
    nginx = services["nginx"]
    # Debian-based official image: its entrypoint renders /etc/nginx/templates/*.template with envsubst.
    assert nginx["image"].startswith("nginx:") and nginx["image"].endswith("-bookworm")
    assert nginx["ports"] == ["8000:80"]
    assert "ports" not in services["web"]
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"
    assert "./deploy/nginx/indivillage.conf:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]
    template = (ROOT / "deploy" / "nginx" / "indivillage.conf").read_text()
    used = set(re.findall(r"\$\{(NGINX_\w+)\}", template))
    assert used == {name for name in nginx["environment"] if name != "NGINX_ENVSUBST_FILTER"}
    assert nginx["environment"]["NGINX_UPSTREAM"] == "web:8000"
    # The app believes X-Forwarded-For from nginx's fixed address only.
    address = nginx["networks"]["default"]["ipv4_address"]
    for name in APPS:
        assert services[name]["environment"]["TRUSTED_PROXIES"] == address, name
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert address.startswith(subnet.rsplit(".", 1)[0] + ".")


def test_compose_migrates_as_the_owner_and_serves_as_the_application_role():
    services = _compose()["services"]
    postgres = services["postgres"]
    assert "./bin/setup-postgres:/docker-entrypoint-initdb.d/10-setup-postgres.sh:ro" in postgres["volumes"]
    assert "shared_preload_libraries=pg_stat_statements" in postgres["command"]
    env = postgres["environment"]
    owner, app = env["DB_OWNER"], env["DB_APP"]
    assert owner != app and env["POSTGRES_USER"] not in (owner, app)
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith(f"postgres://{owner}:")
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith(f"postgres://{app}:"), name
    assert (ROOT / "bin" / "setup-postgres").stat().st_mode & 0o111
