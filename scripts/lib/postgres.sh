# PostgreSQL for the tests and the benchmark's smoke pass; sourced by scripts/test and .ci/run.
# `start_throwaway_postgres` starts a cluster of its own from the installed server binaries
# (installing PostgreSQL with apt-get when missing), sets `throwaway_postgres_url` to its `test`
# database (trust auth), and stops and removes it when the calling shell exits.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

postgres_answers() {
    command -v psql >/dev/null 2>&1 && psql "$1" -qtAc 'SELECT 1' >/dev/null 2>&1
}

stop_throwaway_postgres() {
    "${pg_runner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
}

start_throwaway_postgres() {
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        as_root apt-get update -qq && as_root apt-get install -y -qq postgresql
    fi
    local port=55432
    pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
    pg_dir=$(mktemp -d /tmp/orgdoor-postgres.XXXXXX)
    # initdb refuses to run as root; the package's `postgres` user owns the cluster.
    pg_runner=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$pg_dir"
        pg_runner=(runuser -u postgres --)
    fi
    trap 'stop_throwaway_postgres' EXIT
    "${pg_runner[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust >/dev/null
    "${pg_runner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
        -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    "${pg_runner[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
    throwaway_postgres_url="postgres://postgres@127.0.0.1:$port/test"
    echo "$0: started a throwaway PostgreSQL at $throwaway_postgres_url" >&2
}
