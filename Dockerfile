# Production image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=scrm.settings.production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scrm scrm
COPY tenants tenants
COPY members members
COPY guides guides
COPY tasks tasks
COPY wecom wecom
COPY templates templates
COPY manage.py ./
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbm90LXNlY3JldC0wMDAwMDA= LOOKUP_HASH_KEY=build \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput
RUN useradd --create-home scrm
USER scrm
EXPOSE 8000
CMD ["gunicorn", "scrm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "30"]
