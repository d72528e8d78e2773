FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/videobot.db \
    PORT=3000 \
    VIDEOBOT_HEALTH_ADDRESS=127.0.0.1:8081

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
# The catalogues (bot/messages/_i18n.py reads them from /app/locales, the working directory).
COPY locales ./locales
RUN pip install . \
 && useradd --create-home --uid 10001 videobot \
 && mkdir -p /data \
 && chown videobot:videobot /data

USER videobot
# The SQLite file (and its WAL) lives here: mount a volume so jobs survive a new container.
VOLUME ["/data"]
# Slack's requests, in HTTP mode only (Socket Mode binds no port for them). Health and metrics are on
# VIDEOBOT_HEALTH_ADDRESS, loopback inside the container: the HEALTHCHECK below runs there too. To scrape
# /metrics or probe /healthz from outside, set VIDEOBOT_HEALTH_ADDRESS=0.0.0.0:8081 and publish 8081 to a
# network only your monitoring reaches.
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os, urllib.request; host, _, port = os.environ.get('VIDEOBOT_HEALTH_ADDRESS', '127.0.0.1:8081').rpartition(':'); host = {'0.0.0.0': '127.0.0.1', '[::]': '[::1]'}.get(host, host); urllib.request.urlopen(f'http://{host}:{port}/healthz', timeout=4)"

CMD ["videobot", "run"]
