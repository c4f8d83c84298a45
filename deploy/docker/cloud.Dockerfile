# syntax=docker/dockerfile:1.7
# The cloud image: one image for every cloud process, chosen by its arguments:
#   robocover api --domains ... | ingest | jobs | jobs --beat | risk worker --beat | migrate
# Build from the repository's root (the context), with BuildKit (the default since Docker 23):
#   docker build -f deploy/docker/cloud.Dockerfile -t robocover/cloud:0.1.0 .
# cloud.Dockerfile.dockerignore beside this file says what of the checkout is sent.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- builder: wheels only
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# A compiler for any dependency without a wheel for this platform: it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY firmware_protocol ./firmware_protocol
COPY edge_agent ./edge_agent
COPY database ./database
COPY migrations ./migrations
COPY ingest ./ingest
COPY risk_engine ./risk_engine
COPY cloud_api ./cloud_api
# robocover's own wheel and one for each of its cloud dependencies.
RUN pip wheel --wheel-dir /wheels ".[cloud]"

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ARG ROBOCOVER_UID=10001
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/robocover/venv/bin:$PATH
# The same place as the systemd units' (deploy/systemd): /opt/robocover/venv.
# The wheels are bind-mounted from the builder, so no layer keeps them; no compiler here.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/robocover/venv \
    && /opt/robocover/venv/bin/pip install --no-index --find-links=/wheels "robocover[cloud]" \
    && groupadd --system --gid "${ROBOCOVER_UID}" robocover \
    && useradd --system --uid "${ROBOCOVER_UID}" --gid robocover \
        --home-dir /var/lib/robocover --shell /usr/sbin/nologin robocover \
    && install -d -o robocover -g robocover -m 0750 /var/lib/robocover \
        /var/lib/robocover/attachments \
    && install -d -m 0755 /opt/robocover/scripts
# The broker's accounts file (standard library only) and the container health check.
COPY scripts/dynsec_init.py deploy/docker/broker-init.sh deploy/docker/healthcheck.py \
    /opt/robocover/scripts/
# Inside a container the processes listen on every address of the container's own network;
# logs are JSON lines (one object a line) on stdout.
ENV ROBOCOVER_API_HOST=0.0.0.0 ROBOCOVER_HTTP_HOST=0.0.0.0 ROBOCOVER_LOG_FORMAT=json
USER ${ROBOCOVER_UID}:${ROBOCOVER_UID}
WORKDIR /var/lib/robocover
EXPOSE 8000 9464 9465
# Which check runs follows the process this container runs (healthcheck.py): the API's
# /healthz, the ingest's /health, a Celery ping to the worker; nothing for one-shot commands.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "/opt/robocover/scripts/healthcheck.py"]
ENTRYPOINT ["robocover"]
CMD ["api"]
