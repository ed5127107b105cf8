#!/usr/bin/env bash
# Stop and remove the cluster started by .ci/postgres.sh (same PGPORT / FIELDROUTE_PG_DIR).
set -euo pipefail
exec "$(dirname "$0")/postgres.sh" stop
