# syntax=docker/dockerfile:1
# Serving image: ONNX Runtime on the GPU (CPU fallback), no torch.
# Python 3.11 (the README's and CI's) from the official slim image. CUDA 13 and cuDNN 9, which
# onnxruntime-gpu 1.31 is built for, come as pip wheels (the `cuda` extra, locked with hashes in
# requirements/serve.txt); the engine loads them with onnxruntime.preload_dlls() when it asks
# for the CUDA provider. So no CUDA base image: the host needs only the NVIDIA driver (>= 580,
# CUDA 13) and the NVIDIA Container Toolkit, and the CUDA libraries are the locked ones.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# A fixed UID/GID so volume permissions are predictable on every host. /models, owned by it,
# is where compose mounts the models volume: an empty volume takes this owner, so the
# training image (same UID) can export into it even when the api created it.
RUN groupadd --system --gid 10001 introvac \
    && useradd --system --uid 10001 --gid introvac --home-dir /app --shell /usr/sbin/nologin introvac \
    && install -d -o 10001 -g 10001 /models

# Dependencies first, in their own layer, from the lock file alone (every package pinned and
# hash-checked, nothing resolved at build time): a code change reuses this layer.
COPY requirements/serve.txt /tmp/requirements.txt
RUN python -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

WORKDIR /app

# The shipped default model (changes less often than the code, so its layer comes first).
# Other models: mount them anywhere and point EXTRA_MODELS_DIR there (docs/DEPLOY.md); a
# volume over /app/models would hide this one.
COPY models ./models
COPY --chmod=0755 docker/start-service.sh /usr/local/bin/start-service

# The project itself; its dependencies and build backend are all in the layer above.
COPY pyproject.toml README.md LICENSE ./
COPY service ./service
RUN pip install --no-cache-dir --no-deps --no-build-isolation .

USER 10001:10001

# Every INTROVAC_* setting (see README) can be overridden at run time. The Langevin kernel's
# numba cache goes to /tmp: site-packages is not writable by the service user.
ENV INTROVAC_MODELS_DIR=/app/models \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1 \
    TIMEOUT_KEEP_ALIVE=75 \
    TIMEOUT_GRACEFUL_SHUTDOWN=30 \
    NUMBA_CACHE_DIR=/tmp/numba-cache

EXPOSE 8000

# Ready = manifest validated, model loaded and warmed up; the start period covers that.
# Python's urllib, not curl: the slim image has no curl, and urlopen fails on a 503.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["start-service"]
