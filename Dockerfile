# CogniRace prediction service: `cognirace serve` on port 8005.
#
#   docker build -t cognirace .
#   docker run -p 8005:8005 -v "$PWD/data/registry:/models:ro" \
#       -e COGNIRACE_API_KEYS="sha256:...:predict" cognirace
#
# The models come from COGNIRACE_REGISTRY_URL: a folder mounted at /models (the
# default) or a bucket (gs://...; the image carries the `gcs` extra, add `s3` with
# --build-arg EXTRAS=gcs,s3). The service binds 0.0.0.0 here, so it refuses to start
# without API keys (COGNIRACE_API_KEYS or a keys file): make them with
# `cognirace keys create`. The port is COGNIRACE_PORT (8005), or Cloud Run's PORT
# when set; on Vertex AI the service itself listens on AIP_HTTP_PORT.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtual environment with the CPU build of PyTorch and the package -----
FROM ${PYTHON_IMAGE} AS build

ARG TORCH_VERSION=2.13.0
ARG EXTRAS=gcs
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# The CPU wheel first: the package asks for torch>=2.4, which a plain index would
# satisfy with a CUDA build several GB large. This layer stays cached across code edits.
RUN pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[${EXTRAS}]" \
    && python -c "import torch; assert torch.__version__.endswith('+cpu'), torch.__version__"

# --- runtime: the environment only, run by an unprivileged user ---------------------
FROM ${PYTHON_IMAGE}

# LightGBM's wheel links the system OpenMP runtime, which the slim image lacks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 cognirace \
    && useradd --system --uid 10001 --gid cognirace --create-home \
       --home-dir /home/cognirace --shell /usr/sbin/nologin cognirace \
    && mkdir -p /models /var/cache/cognirace \
    && chown cognirace:cognirace /models /var/cache/cognirace

COPY --from=build /opt/venv /opt/venv

# One thread per prediction: the service runs one worker per CPU (COGNIRACE_WORKERS)
# and many requests at once, so a single-row call spread over every core only waits for
# busy cores. Measured with bench/serve.py on 2 cores: the anomaly model's in-process p50
# fell from 16 to 8 ms under load with one OpenMP thread; one Polars thread cut the HTTP
# p50 of fuel, fcy and pitloss by about 0.4 to 0.9 ms.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1 \
    POLARS_MAX_THREADS=1 \
    COGNIRACE_HOST=0.0.0.0 \
    COGNIRACE_PORT=8005 \
    COGNIRACE_REGISTRY_URL=/models \
    COGNIRACE_MODEL_CACHE_DIR=/var/cache/cognirace/models

USER 10001:10001
WORKDIR /home/cognirace
EXPOSE 8005

# Docker and Compose use this; Cloud Run and Kubernetes use their own probes on the
# same routes (/health for liveness, /ready for readiness). Port as in the entrypoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('AIP_HTTP_PORT') or os.environ.get('PORT') or os.environ.get('COGNIRACE_PORT', '8005'); urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4)"]

# `cognirace serve` as PID 1 (exec), so SIGTERM reaches it and in-flight requests
# finish. Cloud Run's PORT, when set, becomes COGNIRACE_PORT; arguments given to
# `docker run IMAGE ...` are appended (e.g. --workers 2).
ENTRYPOINT ["/bin/sh", "-c", "export COGNIRACE_PORT=\"${PORT:-${COGNIRACE_PORT:-8005}}\"; exec cognirace serve \"$@\"", "cognirace-serve"]
CMD []
