# syntax=docker/dockerfile:1
# Training image: torch + torchvision (the PyPI wheels bundle their CUDA libraries),
# running the training CLI. Dataset and outputs are volumes; multi-GPU via torchrun.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 introvac \
    && useradd --system --uid 10001 --gid introvac --create-home --home-dir /home/introvac introvac

# Dependencies first, in their own layer, from the lock file alone (the `training` extra,
# every package pinned and hash-checked): a code change reuses this multi-GB layer.
COPY requirements/train.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

WORKDIR /app

# The project itself; its dependencies and build backend are all in the layer above.
COPY pyproject.toml README.md LICENSE ./
COPY service ./service
COPY training ./training
RUN pip install --no-cache-dir --no-deps --no-build-isolation .

# /data: CelebA folder (img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt)
# /runs: checkpoints + TensorBoard; /models: exported models shared with the api service.
RUN mkdir -p /data /runs /models && chown introvac:introvac /data /runs /models
VOLUME ["/data", "/runs", "/models"]

USER 10001:10001

# Single GPU:  python -m training train ...
# Multi-GPU:   torchrun --nproc_per_node=NUM_GPUS -m training train ...
ENTRYPOINT ["python", "-m", "training"]
CMD ["--help"]
