# syntax=docker/dockerfile:1
# Serving image: ONNX Runtime on the GPU (CPU fallback), no torch.
# onnxruntime-gpu 1.31 (pinned in pyproject.toml) is built for CUDA 13.0 and cuDNN 9,
# so the base is the matching CUDA runtime with cuDNN. Keep the two in step when bumping.
FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# The CUDA base image pins the OS release; the Python packages are the pinned part.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed UID/GID so volume permissions are predictable on every host.
RUN groupadd --system --gid 10001 introvac \
    && useradd --system --uid 10001 --gid introvac --home-dir /app --shell /usr/sbin/nologin introvac

WORKDIR /app

# Same dependency definition as the README and CI: `pip install .` = serving extras only.
COPY pyproject.toml README.md ./
COPY service ./service
RUN python3 -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir .

# The shipped default model; mount a volume over /app/models to serve others.
COPY --chown=10001:10001 models ./models
COPY docker/start-service.sh /usr/local/bin/start-service
RUN chmod 0755 /usr/local/bin/start-service

USER 10001:10001

# Every INTROVAC_* setting (see README) can be overridden at run time.
ENV INTROVAC_MODELS_DIR=/app/models \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1 \
    TIMEOUT_KEEP_ALIVE=5 \
    TIMEOUT_GRACEFUL_SHUTDOWN=30

EXPOSE 8000

# Ready = manifest validated, model loaded and warmed up; the start period covers that.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["sh", "-c", "curl -fsS \"http://127.0.0.1:${PORT}/ready\" || exit 1"]

CMD ["start-service"]
