# Theo production image: one image for web (daphne), worker and beat; runs as a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    THEO_DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 theo \
    && useradd --system --uid 10001 --gid theo --home-dir /app --shell /usr/sbin/nologin theo

WORKDIR /app
COPY requirements.txt ./
# The CPU build of torch first (the default PyPI wheel brings ~4 GB of CUDA libraries);
# torch==2.13.0 in requirements.txt is then already satisfied by 2.13.0+cpu.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install -r requirements.txt

COPY --chown=theo:theo . .

# Static files are collected at build time (whitenoise serves them). The URLs below are
# placeholders so that manage.py (apps.core.embedded.ensure_services) starts no embedded
# service; nothing connects.
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only THEO_JWT_SIGNING_KEY=build-only-jwt DEBUG=true \
    python manage.py collectstatic --noinput \
    && mkdir -p /data && chown theo:theo /data

USER theo
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)" || exit 1

# No --proxy-headers, ever: daphne would take the leftmost X-Forwarded-For entry (the
# client's own choice) as the peer. Theo reads the headers itself, trusting only the
# proxies THEO_BEHIND_PROXY / THEO_TRUSTED_PROXIES name (apps/core/proxies.py).
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "--access-log", "/dev/null", "theo.asgi:application"]
