# AfterClose as a container (docs/operations.md has the whole story).
#
#   docker run -v ./afterclose.toml:/etc/afterclose/config.toml:ro -v afterclose-state:/var/lib/afterclose \
#              -e AFTERCLOSE_HUBSPOT__ACCESS_TOKEN_FILE=/run/secrets/hubspot_token -p 9108:9108 afterclose
#
# The default command is `afterclose serve`: the cron schedules from the config, /healthz and
# /metrics on port 9108. For a Kubernetes CronJob, run `afterclose run` instead (same image).
# The config is read from /etc/afterclose/config.toml (AFTERCLOSE_CONFIG); secrets belong in the
# environment or in mounted files (*_file keys), never in the image.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY jobs ./jobs
COPY mappings ./mappings
# The postgres extra: replicas share state in PostgreSQL (SQLite is the single-container default).
RUN pip install --no-cache-dir --prefix=/install '.[postgres]'

FROM python:3.11-slim
COPY --from=build /install /usr/local
# A fixed, unprivileged user: the process never needs root, and a mounted volume can be chowned
# to this uid by the orchestrator (Kubernetes: securityContext.fsGroup: 10001).
RUN groupadd --system --gid 10001 afterclose \
 && useradd --system --uid 10001 --gid afterclose --home-dir /var/lib/afterclose --create-home afterclose
USER 10001:10001
# The working directory holds the default SQLite state (.afterclose/state.db, relative to it), so
# the volume keeps it across restarts. A state.url in the config (PostgreSQL) still wins: the
# image sets no AFTERCLOSE_STATE__URL, because the environment would override the config file.
WORKDIR /var/lib/afterclose
VOLUME ["/var/lib/afterclose"]
# /healthz and /metrics must be reachable from outside the container: listen on every interface.
ENV AFTERCLOSE_CONFIG=/etc/afterclose/config.toml \
    AFTERCLOSE_SERVER__HOST=0.0.0.0 \
    AFTERCLOSE_SERVER__PORT=9108 \
    PYTHONUNBUFFERED=1
EXPOSE 9108
# Unhealthy when the last run failed or none finished in two schedule intervals (jobs/serve/schedule.py).
# python, not curl: the slim image has no curl; urlopen raises (exit 1) on the 503.
HEALTHCHECK --interval=60s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
# SIGTERM (docker stop, Kubernetes) makes AfterClose finish and record the current page, then exit
# 0; give it time: docker stop --time 60, terminationGracePeriodSeconds: 60.
STOPSIGNAL SIGTERM
ENTRYPOINT ["afterclose"]
CMD ["serve"]
