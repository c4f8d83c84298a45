# syntax=docker/dockerfile:1.7
# The edge agent's image: robocover-agent with the `agent` extra only (paho-mqtt, msgspec,
# psutil), no cloud dependency. AGENT_EXTRAS=agent,ros adds rosbag replay.
#   docker build -f deploy/docker/agent.Dockerfile -t robocover/agent:0.1.0 .
# Its state (outbox, signing key, identity) is a volume at /var/lib/robocover-agent; its
# settings are /etc/robocover/agent.toml (edge_agent/packaging/agent.example.toml) and
# ROBOCOVER_AGENT_* variables.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ARG AGENT_EXTRAS=agent
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The wheel holds every package (pyproject's wheel target); only the agent's are imported.
COPY pyproject.toml README.md ./
COPY firmware_protocol ./firmware_protocol
COPY edge_agent ./edge_agent
COPY database ./database
COPY migrations ./migrations
COPY ingest ./ingest
COPY risk_engine ./risk_engine
COPY cloud_api ./cloud_api
RUN pip wheel --wheel-dir /wheels ".[${AGENT_EXTRAS}]"

FROM ${PYTHON_IMAGE} AS runtime
ARG AGENT_EXTRAS=agent
ARG AGENT_UID=10002
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/robocover/venv/bin:$PATH \
    ROBOCOVER_AGENT_STATE_DIR=/var/lib/robocover-agent
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/robocover/venv \
    && /opt/robocover/venv/bin/pip install --no-index --find-links=/wheels \
        "robocover[${AGENT_EXTRAS}]" \
    && groupadd --system --gid "${AGENT_UID}" robocover-agent \
    && useradd --system --uid "${AGENT_UID}" --gid robocover-agent \
        --home-dir /var/lib/robocover-agent --shell /usr/sbin/nologin robocover-agent \
    && install -d -o robocover-agent -g robocover-agent -m 0700 /var/lib/robocover-agent
USER ${AGENT_UID}:${AGENT_UID}
WORKDIR /var/lib/robocover-agent
VOLUME ["/var/lib/robocover-agent"]
# The agent has no health endpoint and no sd_notify: its outbox is its health, and a
# container that exits is restarted by its restart policy. docs/deployment.md says more.
HEALTHCHECK NONE
ENTRYPOINT ["robocover-agent"]
CMD ["--config", "/etc/robocover/agent.toml", "run"]
