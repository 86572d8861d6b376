# AfterClose as a container. The README's "Deployment" section is the recipe; docs/operations.md
# has the whole story; tests/deploy/ lints this file (hadolint) and runs its HEALTHCHECK against a
# real `afterclose serve`.
#
#   docker build --build-arg REVISION="$(git rev-parse HEAD)" -t afterclose .
#
# Which value wins: the config file (/etc/afterclose/config.toml, AFTERCLOSE_CONFIG) decides, and an
# AFTERCLOSE_<SECTION>__<KEY> given to `docker run -e` or a pod's env wins over it. The image sets no
# AfterClose setting of its own, so it never overrides the file behind your back: the container
# config docs/kubernetes/base/afterclose.toml sets [server] host = "0.0.0.0" and port = 9108.
# Secrets belong in mounted files (*_file keys), never in the image or the config file.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY jobs ./jobs
COPY mappings ./mappings
# The postgres extra: replicas share state in PostgreSQL (SQLite is the single-container default).
# DL3013 asks for pinned versions: what is installed is this source tree itself, whose dependency
# ranges are pyproject.toml's (the project keeps no lock file yet).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --prefix=/install '.[postgres]'

FROM python:3.11-slim
# VERSION defaults to the package version (pyproject.toml; tests/deploy keeps them equal).
ARG VERSION=0.1.0
# The commit built from, and where its source is: pass them at build time (see the top).
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="AfterClose" \
      org.opencontainers.image.description="Keeps selling after the close: handoff checks, follow-up and renewal tasks, NPS and referral status inside HubSpot or Salesforce." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
COPY --from=build /install /usr/local
# A fixed, unprivileged user: the process never needs root, and a mounted volume can be chowned
# to this uid by the orchestrator (Kubernetes: securityContext.fsGroup: 10001).
RUN groupadd --system --gid 10001 afterclose \
 && useradd --system --uid 10001 --gid afterclose --home-dir /var/lib/afterclose --create-home afterclose
USER 10001:10001
# The working directory holds the default SQLite state (.afterclose/state.db, relative to it), so
# the volume keeps it across restarts. A state.url in the config (PostgreSQL) wins, because the
# image sets no AFTERCLOSE_STATE__URL.
WORKDIR /var/lib/afterclose
VOLUME ["/var/lib/afterclose"]
# AFTERCLOSE_CONFIG names the file; it is not a setting. No .pyc is written: the root filesystem
# may be read-only (Kubernetes readOnlyRootFilesystem), and pip compiled them at install time.
ENV AFTERCLOSE_CONFIG=/etc/afterclose/config.toml \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The port the container config (docs/kubernetes/base/afterclose.toml) serves /healthz and /metrics on.
EXPOSE 9108
# Unhealthy when the last run failed or none finished in two schedule intervals (jobs/serve/schedule.py).
# It asks the settings for host and port, as `serve` does, so it probes wherever serve listens:
# the config's [server] port, or an AFTERCLOSE_SERVER__PORT passed at run time. python, not curl:
# the slim image has no curl; urlopen raises (exit 1) on the 503 and on a refused connection.
# Only `serve` answers it: a one-shot `run` container has no /healthz (Kubernetes ignores this).
# It reads the file AFTERCLOSE_CONFIG names: choose a container's config with that variable, not --config.
HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; from jobs.config import Settings; s = Settings.load(os.environ['AFTERCLOSE_CONFIG']).server; host = {'0.0.0.0': '127.0.0.1', '::': '::1'}.get(s.host, s.host); host = f'[{host}]' if ':' in host else host; urllib.request.urlopen(f'http://{host}:{s.port}/healthz', timeout=8)"]
# SIGTERM (docker stop, Kubernetes) makes AfterClose finish and record the current page, then exit
# 0; give it time: docker run --stop-timeout 60, terminationGracePeriodSeconds: 60.
STOPSIGNAL SIGTERM
ENTRYPOINT ["afterclose"]
CMD ["serve"]
