# mike-bench in a container. On a GPU host: `docker build -t mike-bench .` and
# `docker run --gpus all --user "$(id -u):$(id -g)" -v "$PWD/results:/results" mike-bench suite single`.
# Offline, mirror-only or behind a TLS-inspecting proxy: pass a local base image and the CA bundle
# (README, "Docker"); nothing here needs a container registry except the default base.
#
# The torch/torchvision wheels pinned in uv.lock bring their own CUDA libraries, so the base needs none:
# the CUDA *base* flavour only gives the environment the NVIDIA container toolkit reads.
ARG BASE_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_CACHE_DIR=/var/cache/uv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HOME=/tmp \
    PATH=/opt/venv/bin:$PATH

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# uv from PyPI (a site with only a package mirror has it); the CA bundle is a build secret, never a layer.
ARG UV_VERSION=0.13.9
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --quiet "uv==${UV_VERSION}" \
    && ln -s /opt/uv/bin/uv /usr/local/bin/uv

WORKDIR /app
# Locked dependencies first, so a source change does not rebuild the torch layer; uv's download cache
# is a build cache mount, so it never lands in a layer.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/var/cache/uv --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi \
    && uv sync --locked --no-dev --no-install-project --compile-bytecode

COPY README.md ./
COPY mike ./mike
COPY benchmark ./benchmark
COPY suites ./suites
COPY bench ./bench
COPY reports/claims.toml reports/deviations.toml ./reports/
COPY docker/entrypoint.sh /usr/local/bin/mike-bench-entrypoint
# The project itself only (an editable install: a .pth file and two scripts).
RUN --mount=type=cache,target=/var/cache/uv --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi \
    && uv sync --locked --no-dev \
    && mkdir -p /data /results && chmod 1777 /results

# The commit the image was built from (.git is not copied): runs and reports record it.
ARG GIT_COMMIT=unknown
ENV MIKE_BENCH_GIT_COMMIT=${GIT_COMMIT}
LABEL org.opencontainers.image.revision=${GIT_COMMIT} \
      org.opencontainers.image.title=mike-bench

# Any uid works (no account is needed): run as yourself with --user "$(id -u):$(id -g)" so that what
# lands in the bind-mounted /results is yours. Without --user the image runs as uid 1000, not root.
USER 1000:1000
# Results (embedded database, dataset caches, reports) live on /results; datasets are mounted on /data
# (/data/coco, /data/svhn, /data/stl10, /data/alexnet). Without MONGO_URL the embedded server keeps its
# data in /results/.mike-bench/db.
WORKDIR /results
VOLUME ["/data", "/results"]

ENTRYPOINT ["mike-bench-entrypoint"]
CMD ["--help"]
