# AfterClose as a scheduled container: `afterclose serve` runs the cron schedules from the config
# and answers /healthz and /metrics. Mount the config at /etc/afterclose/config.toml and secrets
# as files (see README: *_file keys); state lives on the /var/lib/afterclose volume.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY jobs ./jobs
COPY mappings ./mappings
RUN pip install --no-cache-dir --prefix=/install '.[postgres]'

FROM python:3.11-slim
COPY --from=build /install /usr/local
# A fixed, unprivileged user: the process never needs root, and a mounted volume can be
# chowned to this uid by the orchestrator.
RUN groupadd --system --gid 10001 afterclose \
 && useradd --system --uid 10001 --gid afterclose --home-dir /var/lib/afterclose --create-home afterclose
USER 10001:10001
WORKDIR /var/lib/afterclose
VOLUME ["/var/lib/afterclose"]
ENV AFTERCLOSE_CONFIG=/etc/afterclose/config.toml \
    AFTERCLOSE_STATE__URL=sqlite:////var/lib/afterclose/state.db \
    AFTERCLOSE_SERVER__HOST=0.0.0.0 \
    AFTERCLOSE_SERVER__PORT=9108 \
    PYTHONUNBUFFERED=1
EXPOSE 9108
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["afterclose"]
CMD ["serve"]
