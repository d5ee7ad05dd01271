FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    VAR_DIR=/app/var

# pg_dump/pg_restore for the backup jobs; curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .

RUN useradd --system --uid 1000 --home /app app \
    && mkdir -p /app/var \
    && DJANGO_SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=build-only BLIND_INDEX_KEY=build-only AUDIT_CHAIN_KEY=build-only CLAMAV_DISABLED=true \
       DATABASE_URL=postgres://build@localhost/build python manage.py collectstatic --noinput \
    && chown -R app /app/var
USER app

EXPOSE 8000
# Workers, threads, preloading and the database pool's fork rules: config/gunicorn.py (WEB_CONCURRENCY).
CMD ["gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"]
