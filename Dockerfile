# mike-bench on a CUDA machine: `docker run --gpus all mike-bench suite single --profile paper`.
# torch/torchvision CUDA wheels (pinned in uv.lock) bring their own CUDA libraries; the base gives the
# runtime environment the NVIDIA container toolkit expects.
FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

WORKDIR /app
# Locked dependencies first, so editing the source does not rebuild the torch layer.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
COPY README.md ./
COPY mike ./mike
COPY benchmark ./benchmark
COPY suites ./suites
COPY bench ./bench
COPY reports/claims.toml reports/deviations.toml ./reports/
RUN uv sync --locked --no-dev

RUN useradd --create-home --uid 1000 bench \
    && mkdir -p /data /results \
    && chown bench:bench /data /results
USER 1000:1000
# Results (embedded database, dataset caches, reports) live on /results; datasets are mounted on /data
# (/data/coco, /data/svhn, /data/stl10, /data/alexnet). Without MONGO_URL the embedded server keeps its
# data in /results/.mike-bench/db.
WORKDIR /results
VOLUME ["/data", "/results"]

ENTRYPOINT ["mike-bench"]
CMD ["--help"]
