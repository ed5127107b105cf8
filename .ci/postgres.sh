#!/usr/bin/env bash
# Throwaway PostgreSQL for CI: `.ci/postgres.sh [start]` installs PostgreSQL from Debian
# packages if no server is present, creates a fresh cluster under a temporary directory,
# starts it on 127.0.0.1:${PGPORT:-55432}, creates the role and database the API tests use,
# and prints the SQLAlchemy URL as the only line on stdout (everything else goes to stderr):
#
#     DB_URL=$(.ci/postgres.sh | tail -1)
#
# `.ci/postgres.sh stop` (or `.ci/postgres-stop.sh`) stops that cluster and removes it.
# Starting again on the same port stops and replaces the previous cluster, so the database
# is always empty. Environment: PGPORT (port, default 55432), FIELDROUTE_PG_DIR (cluster
# directory, default /tmp/fieldroute-pg-$PGPORT), PG_BINDIR (server binaries, default the
# newest /usr/lib/postgresql/<version>/bin, else the pg_ctl on PATH).
set -euo pipefail

PORT="${PGPORT:-55432}"
BASE="${FIELDROUTE_PG_DIR:-/tmp/fieldroute-pg-$PORT}"
BINDIR="${PG_BINDIR:-}"
DB_NAME=fieldroute_test
DB_USER=fieldroute
DB_PASSWORD=fieldroute
CI_USER=fieldroute-pg   # created only when running as root on a machine without `postgres`

# Libpq reads these; the cluster must be reached exactly as this script says.
for v in $(compgen -e | grep '^PG' || true); do unset "$v"; done

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] || die "PGPORT must be a number, got '$PORT'"
case "$BASE" in /*) ;; *) die "FIELDROUTE_PG_DIR must be an absolute path" ;; esac
# A unix socket path may not exceed 107 bytes.
(( ${#BASE} <= 80 )) || die "FIELDROUTE_PG_DIR is too long for a socket path: $BASE"

find_bindir() {
    [ -n "$BINDIR" ] && return 0
    local d p
    # Debian's layout first (newest major version), then whatever pg_ctl is on PATH.
    while read -r d; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            BINDIR=$d
            return 0
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
    if p=$(command -v pg_ctl); then
        d=$(dirname "$(readlink -f "$p")")
        if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
            BINDIR=$d
            return 0
        fi
    fi
    return 1
}

# A client program from the server's bin dir, or from PATH.
tool() {
    if [ -x "$BINDIR/$1" ]; then echo "$BINDIR/$1"; else command -v "$1" || die "$1 not found"; fi
}

install_postgresql() {
    [ "$(id -u)" -eq 0 ] || die "PostgreSQL server binaries not found and not running as root to install them (apt-get install postgresql)"
    log "installing PostgreSQL from Debian packages"
    # Only this script's cluster is wanted: do not let the package create and start the
    # default "main" cluster on port 5432.
    if [ -z "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/fieldroute-ci.conf
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
}

# Run a command as the cluster's owner (initdb and pg_ctl refuse to run as root).
as_owner() {
    local owner=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$BASE" && runuser -u "$owner" -- env HOME="$BASE" "$@")
    else
        (cd "$BASE" && "$@")
    fi
}

port_open() { (: <>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

stop_cluster() {
    local data="$BASE/data" owner
    if [ -f "$data/postmaster.pid" ] && find_bindir; then
        owner=$(stat -c %U "$data")
        log "stopping the cluster in $data"
        as_owner "$owner" "$BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >&2 ||
            as_owner "$owner" "$BINDIR/pg_ctl" -D "$data" -m immediate -w -t 30 stop >&2 ||
            log "warning: could not stop the cluster in $data"
    fi
    if [ -d "$BASE" ]; then
        rm -rf "$BASE"
    fi
}

start_cluster() {
    local owner data="$BASE/data" run="$BASE/run" logfile="$BASE/postgresql.log"

    if ! find_bindir; then
        install_postgresql
        find_bindir || die "no PostgreSQL server binaries found after installing postgresql"
    fi
    log "server binaries: $BINDIR ($("$BINDIR/postgres" --version))"

    # A cluster left by an earlier run (same directory) is stopped and replaced.
    stop_cluster
    if port_open; then
        die "127.0.0.1:$PORT is in use by something other than this script's cluster ($BASE); stop it or choose another port with PGPORT=..."
    fi

    if [ "$(id -u)" -eq 0 ]; then
        if id -u postgres >/dev/null 2>&1; then
            owner=postgres
        else
            id -u "$CI_USER" >/dev/null 2>&1 ||
                useradd --system --user-group --no-create-home --home-dir /nonexistent \
                    --shell /usr/sbin/nologin "$CI_USER"
            owner=$CI_USER
        fi
    else
        owner=$(id -un)
    fi

    mkdir -p "$BASE"
    chmod 700 "$BASE"
    [ "$(id -u)" -ne 0 ] || chown "$owner:" "$BASE"
    as_owner "$owner" mkdir -p "$run"

    log "initdb in $data (owner $owner)"
    # Trust on the unix socket (in $run, only the owner can reach it); passwords over TCP,
    # which listens on loopback only.
    if ! as_owner "$owner" "$BINDIR/initdb" -D "$data" -U postgres --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$BASE/initdb.log" 2>&1; then
        cat "$BASE/initdb.log" >&2
        die "initdb failed"
    fi
    # Throwaway test cluster: durability off for speed.
    as_owner "$owner" tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- .ci/postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$run'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    log "starting on 127.0.0.1:$PORT (log: $logfile)"
    if ! as_owner "$owner" "$BINDIR/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >&2; then
        tail -n 50 "$logfile" >&2 || true
        die "pg_ctl start failed"
    fi
    local isready i
    isready=$(tool pg_isready)
    for i in $(seq 1 60); do
        "$isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -t 2 && break
        [ "$i" -lt 60 ] || die "server not ready after 30 s"
        sleep 0.5
    done

    local psql
    psql=$(tool psql)
    as_owner "$owner" "$psql" -X -q -v ON_ERROR_STOP=1 -h "$run" -p "$PORT" -U postgres -d postgres <<EOF
CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
    # Check the URL's way in: TCP, password, the test database.
    PGPASSWORD=$DB_PASSWORD "$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" \
        -U "$DB_USER" -d "$DB_NAME" -c 'SELECT 1' >/dev/null ||
        die "cannot connect as $DB_USER to $DB_NAME over 127.0.0.1:$PORT"
    log "ready: database $DB_NAME, role $DB_USER"
    URL="postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
}

case "${1:-start}" in
    start)
        URL=
        # Everything but the URL goes to stderr; the server's output goes to its log file,
        # so it keeps no handle on our stdout (`$(.ci/postgres.sh | tail -1)` returns).
        start_cluster >&2
        echo "$URL"
        ;;
    stop)
        stop_cluster >&2
        ;;
    *)
        echo "usage: $0 [start|stop]" >&2
        exit 2
        ;;
esac
