#!/bin/sh
# Start command of the serving image (also run outside Docker by the tests).
# One worker per GPU is the usual choice: each worker loads its own copy of the model
# and batches its own requests; scale out with more replicas behind a load balancer.
set -eu
exec uvicorn service.app:create_app --factory \
    --host "${HOST:-0.0.0.0}" \
    --port "${PORT:-8000}" \
    --workers "${WORKERS:-1}" \
    --timeout-keep-alive "${TIMEOUT_KEEP_ALIVE:-5}" \
    --timeout-graceful-shutdown "${TIMEOUT_GRACEFUL_SHUTDOWN:-30}" \
    --no-server-header
