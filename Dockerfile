# The bot's image (docs/deploy.md): docker build -t chatops-bot:0.1.0 .
# Runs as uid 10001 on a read-only root filesystem: the SQLite file lives on /data (a
# volume), uploaded plugins are unpacked into /app/plugins/user_uploads (an emptyDir:
# the database holds them), temporary files go to /tmp (an emptyDir).

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY migrations ./migrations
COPY plugins ./plugins
# The code finds its migrations and builtins next to itself: an editable install keeps
# /app the package's home, in the runtime image too.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install -e '.[postgres]'

FROM python:3.11-slim-bookworm
# bubblewrap: the sandbox for uploaded plugins (`bot doctor` says whether it can start).
# Not pinned: Debian's security updates to it should land with each rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 chatops \
    && useradd --uid 10001 --gid chatops --no-create-home --shell /usr/sbin/nologin chatops
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
RUN mkdir -p /data /app/plugins/user_uploads \
    && chown 10001:10001 /data /app/plugins/user_uploads
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/bot.db \
    PLUGINS_DIR=/app/plugins \
    PORT=3000 \
    LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 3000
VOLUME ["/data"]
ENTRYPOINT ["bot"]
CMD ["run"]
