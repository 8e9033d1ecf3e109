#!/bin/sh
# Start command of the serving image (also run outside Docker by the tests).
# One worker per GPU is the usual choice: each worker loads its own copy of the model
# and batches its own requests; scale out with more replicas behind a load balancer.
#
# EXTRA_MODELS_DIR (optional) is a folder of exported models, usually a volume, served next
# to the image's own INTROVAC_MODELS_DIR (the shipped model): every model folder of both is
# linked into one fresh folder under TMPDIR, which the service then reads. A shipped model's
# name is the image's: an extra folder with that name (an old copy, as a volume seeded by an
# older image holds) is skipped with a warning. So a volume never hides the shipped model
# of a newer image, and an empty or missing one falls back to the shipped model alone.
#
# TIMEOUT_KEEP_ALIVE defaults to 75 s, longer than common load-balancer idle timeouts (AWS
# ALB: 60 s), so the balancer closes idle connections first and never sends a request on a
# connection uvicorn is closing (a spurious 502).
set -eu

if [ -n "${EXTRA_MODELS_DIR:-}" ]; then
    shipped="${INTROVAC_MODELS_DIR:?INTROVAC_MODELS_DIR must name the shipped models when EXTRA_MODELS_DIR is set}"
    [ -d "$EXTRA_MODELS_DIR" ] || echo "start-service: EXTRA_MODELS_DIR=$EXTRA_MODELS_DIR does not exist; serving $shipped only" >&2
    merged="$(mktemp -d "${TMPDIR:-/tmp}/introvac-models.XXXXXX")"
    for folder in "$shipped"/*/; do
        if [ -d "$folder" ]; then
            ln -s "${folder%/}" "$merged/$(basename "$folder")"
        fi
    done
    for folder in "$EXTRA_MODELS_DIR"/*/; do
        name="$(basename "$folder")"
        if [ ! -d "$folder" ]; then
            continue
        elif [ -e "$merged/$name" ]; then
            echo "start-service: skipping ${folder%/}: $name is the image's shipped model ($shipped/$name)" >&2
        else
            ln -s "${folder%/}" "$merged/$name"
        fi
    done
    export INTROVAC_MODELS_DIR="$merged"
fi

exec uvicorn service.app:create_app --factory \
    --host "${HOST:-0.0.0.0}" \
    --port "${PORT:-8000}" \
    --workers "${WORKERS:-1}" \
    --timeout-keep-alive "${TIMEOUT_KEEP_ALIVE:-75}" \
    --timeout-graceful-shutdown "${TIMEOUT_GRACEFUL_SHUTDOWN:-30}" \
    --no-server-header
