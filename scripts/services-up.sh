#!/usr/bin/env bash
# Sets up the services robocover needs on Debian 12 or 13, idempotently:
#   - PostgreSQL with TimescaleDB (Debian's package where there is one, otherwise built once from
#     Debian 13's source package), preloaded, with the robocover role and databases;
#   - Mosquitto: a broker instance of our own on 127.0.0.1:${ROBOCOVER_MQTT_PORT:-1884}, configured for
#     MQTT 5 with persistent sessions and queues sized for telemetry bursts, beside the machine's own,
#     with per-client accounts and ACLs (dynamic security plugin; secrets in $STATE_DIR/secrets);
#   - Redis on 127.0.0.1:6379.
# It installs only what is missing, starts only what is not running, and restarts PostgreSQL only when
# TimescaleDB's settings need it. A second run changes nothing and takes about a second.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages and configures PostgreSQL)"
[ -r /etc/debian_version ] || die "this setup supports Debian 12 and 13 only"

STATE_DIR=${ROBOCOVER_STATE_DIR:-/var/lib/robocover}
MQTT_PORT=${ROBOCOVER_MQTT_PORT:-1884}
REDIS_PORT=${ROBOCOVER_REDIS_PORT:-6379}
DB_ROLE=robocover
# robocover_template carries the extension; the test suite clones its databases from it, so it needs
# no superuser, and the machine's template1 stays as it was.
DATABASES=(robocover robocover_template)
export DEBIAN_FRONTEND=noninteractive

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1; }
[ -n "$(pg_version)" ] || apt_install postgresql
PG_VERSION=$(pg_version)
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
apt_install "postgresql-$PG_VERSION" postgresql-contrib

if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1 == v && $2 == "main"' | grep -q .; then
  log "creating PostgreSQL $PG_VERSION cluster main"
  pg_createcluster "$PG_VERSION" main >/dev/null
fi

pg_running() { pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}' | grep -q online; }
pg_start() {
  pg_running || { log "starting PostgreSQL $PG_VERSION"; pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start; }
}
# As postgres, from /: the caller's directory (a clone under /root, a mktemp -d) may be closed to
# postgres, and psql would say "could not change directory" on every call.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
psql_admin() { as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

build_timescaledb_from_source() {
  # Debian 12 does not package TimescaleDB; Debian 13's source package builds against PostgreSQL 15.
  # A deb-src list of our own, used only for this download, leaves the machine's apt sources alone.
  apt_install "postgresql-server-dev-$PG_VERSION" cmake gcc make libssl-dev dpkg-dev xz-utils
  local work=$STATE_DIR/build/timescaledb
  rm -rf "$work" && mkdir -p "$work/lists/partial" "$work/src"
  echo "deb-src http://deb.debian.org/debian trixie main" > "$work/sources.list"
  local aptopts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
                 -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)
  log "fetching Debian 13's timescaledb source package"
  apt-get "${aptopts[@]}" update -qq
  (cd "$work/src" && apt-get "${aptopts[@]}" source --download-only -qq timescaledb >/dev/null)
  (cd "$work/src" && dpkg-source --no-check -x ./*.dsc tsdb >/dev/null)
  log "building TimescaleDB (Apache edition) against PostgreSQL $PG_VERSION"
  (cd "$work/src/tsdb" \
    && ./bootstrap -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
         -DUSE_TELEMETRY=OFF -DSEND_TELEMETRY_DEFAULT=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DPG_CONFIG="$PG_BIN/pg_config" >"$work/bootstrap.log" 2>&1 \
    && make -C build -j"$(nproc)" >"$work/make.log" 2>&1 \
    && make -C build install >"$work/install.log" 2>&1) \
    || die "TimescaleDB build failed; see the logs in $work"
}

if [ ! -f "/usr/share/postgresql/$PG_VERSION/extension/timescaledb.control" ]; then
  if [ "$apt_updated" -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
  if apt-cache show "postgresql-$PG_VERSION-timescaledb" >/dev/null 2>&1; then
    apt_install "postgresql-$PG_VERSION-timescaledb"
  else
    build_timescaledb_from_source
  fi
fi

pg_start
pg_restart() {
  log "restarting PostgreSQL $PG_VERSION to apply: $1"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main restart
}
preload=$(psql_admin -c "SHOW shared_preload_libraries")
if ! grep -qw timescaledb <<<"$preload"; then
  new_preload=${preload:+$preload,}timescaledb
  log "preloading timescaledb (shared_preload_libraries = '$new_preload')"
  psql_admin -c "ALTER SYSTEM SET shared_preload_libraries = '$new_preload'"
  # TimescaleDB's own settings are unknown to ALTER SYSTEM until the library is loaded.
  pg_restart "shared_preload_libraries"
fi
# robocover runs no TimescaleDB background jobs (the Apache edition has no policies; retention
# is ours). Without workers, no scheduler sits connected to a template database and blocks the
# test suite's CREATE DATABASE ... TEMPLATE, as one was seen to do for minutes.
if [ "$(psql_admin -c "SELECT current_setting('timescaledb.max_background_workers', true)")" != 0 ]; then
  log "disabling TimescaleDB's background workers"
  psql_admin -c "ALTER SYSTEM SET timescaledb.max_background_workers = 0"
  pg_restart "timescaledb.max_background_workers"
fi

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE'")" != 1 ]; then
  log "creating role $DB_ROLE"
  # CREATEDB lets the test suite build and drop its own databases; it is no superuser.
  psql_admin -c "CREATE ROLE $DB_ROLE LOGIN CREATEDB"
fi
for db in "${DATABASES[@]}"; do
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    log "creating database $db"
    psql_admin -c "CREATE DATABASE $db OWNER $DB_ROLE"
  fi
  # A closed template was finished by an earlier run.
  [ "$(psql_admin -c "SELECT datallowconn FROM pg_database WHERE datname = '$db'")" = t ] || continue
  # The extension needs a superuser to create; the application role only uses it.
  if [ "$(psql_admin -d "$db" -c "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")" != 1 ]; then
    log "creating extension timescaledb in $db"
    psql_admin -d "$db" -c "CREATE EXTENSION timescaledb"
  fi
done
# Closed to connections, the template clones at once: TimescaleDB's scheduler no longer visits it.
if [ "$(psql_admin -c "SELECT datistemplate AND NOT datallowconn FROM pg_database
                       WHERE datname = 'robocover_template'")" != t ]; then
  psql_admin -c "ALTER DATABASE robocover_template WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
fi
if ! as_postgres "$PG_BIN/psql" -X -h 127.0.0.1 -U "$DB_ROLE" -d robocover -Atc 'SELECT 1' \
     >/dev/null 2>&1; then
  die "role $DB_ROLE cannot log in over 127.0.0.1; allow it in pg_hba.conf (trust or a password in ROBOCOVER_DATABASE_URL)"
fi

# ---------------------------------------------------------------- Mosquitto
# Authenticated only: Mosquitto's dynamic security plugin holds the accounts and ACLs. The first run
# generates the admin's and the cloud service account's passwords (random, 0600 under
# $SECRETS_DIR, never printed) and writes the plugin's initial file; later runs change nothing.
# Robots get their accounts at enrollment, through the broker's $CONTROL topic.
apt_install mosquitto mosquitto-clients
command -v python3 >/dev/null || apt_install python3
MQTT_DIR=$STATE_DIR/mosquitto
SECRETS_DIR=$STATE_DIR/secrets
mkdir -p "$MQTT_DIR/data"
install -d -m 0700 "$SECRETS_DIR"
new_secret() {
  local path=$SECRETS_DIR/$1
  [ -s "$path" ] && return 0
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$path")
}
new_secret mqtt_admin_password
new_secret mqtt_ingest_password
new_secret mqtt_cloud_password
new_secret api_cursor_secret
# The API's access tokens are signed with an EC P-256 key (ES256), made once; its key id names it
# in each token's header, so a later key can sign beside it while its tokens expire (rotation).
if [ ! -s "$SECRETS_DIR/api_jwt_signing_key" ]; then
  apt_install openssl
  (umask 077; openssl ecparam -name prime256v1 -genkey -noout \
    | openssl pkcs8 -topk8 -nocrypt > "$SECRETS_DIR/api_jwt_signing_key.new" \
    && mv "$SECRETS_DIR/api_jwt_signing_key.new" "$SECRETS_DIR/api_jwt_signing_key")
  rm -f "$SECRETS_DIR/api_jwt_key_id"
fi
[ -s "$SECRETS_DIR/api_jwt_key_id" ] \
  || (umask 077; echo "robocover-$(date -u +%Y%m%d%H%M%S)" > "$SECRETS_DIR/api_jwt_key_id")
# Every account is bound to one client id, its user name: the first ingest process's account is
# robocover-ingest-1 (earlier versions had one unbound robocover-ingest account for all).
if [ "$(cat "$SECRETS_DIR/mqtt_ingest_username" 2>/dev/null)" != robocover-ingest-1 ]; then
  (umask 077; echo robocover-ingest-1 > "$SECRETS_DIR/mqtt_ingest_username")
fi
[ -s "$SECRETS_DIR/mqtt_cloud_username" ] || (umask 077; echo robocover-cloud > "$SECRETS_DIR/mqtt_cloud_username")
here=$(cd "$(dirname "$0")" && pwd)
DYNSEC_FILE=$MQTT_DIR/data/dynamic-security.json
DYNSEC_PLUGIN=$(ls /usr/lib/*/mosquitto_dynamic_security.so 2>/dev/null | head -n 1)
[ -n "$DYNSEC_PLUGIN" ] || die "mosquitto_dynamic_security.so is missing (package mosquitto)"
dynsec_init() {
  python3 "$here/dynsec_init.py" --file "$DYNSEC_FILE" "$@" --admin-username admin \
    --admin-password-file "$SECRETS_DIR/mqtt_admin_password" \
    --ingest-username "$(cat "$SECRETS_DIR/mqtt_ingest_username")" \
    --ingest-password-file "$SECRETS_DIR/mqtt_ingest_password" \
    --cloud-username "$(cat "$SECRETS_DIR/mqtt_cloud_username")" \
    --cloud-password-file "$SECRETS_DIR/mqtt_cloud_password"
}
if [ ! -f "$DYNSEC_FILE" ]; then
  log "creating the broker's accounts (admin, $(cat "$SECRETS_DIR/mqtt_ingest_username"), $(cat "$SECRETS_DIR/mqtt_cloud_username"))"
  dynsec_init
fi
# mosquitto_sub reads its options from $XDG_CONFIG_HOME/mosquitto_sub: the password stays off `ps`.
MQTT_CLIENT_CONF=$SECRETS_DIR/mosquitto-clients
install -d -m 0700 "$MQTT_CLIENT_CONF"
client_conf_new=$(printf -- '-u admin\n-i robocover-admin\n-P %s\n' "$(cat "$SECRETS_DIR/mqtt_admin_password")")
if [ ! -f "$MQTT_CLIENT_CONF/mosquitto_sub" ] || [ "$(cat "$MQTT_CLIENT_CONF/mosquitto_sub")" != "$client_conf_new" ]; then
  (umask 077; printf '%s\n' "$client_conf_new" > "$MQTT_CLIENT_CONF/mosquitto_sub")
fi
admin_sub() { XDG_CONFIG_HOME=$MQTT_CLIENT_CONF mosquitto_sub "$@"; }
chown -R mosquitto: "$MQTT_DIR/data" 2>/dev/null || true
conf_new=$(sed -e "s|@PID_FILE@|$MQTT_DIR/mosquitto.pid|" -e "s|@USER@|mosquitto|" -e "s|@PORT@|$MQTT_PORT|" \
  -e "s|@DATA_DIR@|$MQTT_DIR/data|" -e "s|@LOG_FILE@|$MQTT_DIR/mosquitto.log|" \
  -e "s|@DYNSEC_PLUGIN@|$DYNSEC_PLUGIN|" -e "s|@DYNSEC_FILE@|$DYNSEC_FILE|" "$here/mosquitto.conf.template")
conf_file=$MQTT_DIR/mosquitto.conf
mqtt_pid() { [ -f "$MQTT_DIR/mosquitto.pid" ] && cat "$MQTT_DIR/mosquitto.pid"; }
# A pid file can outlive its broker, and its pid be reused by another process: check the name.
mqtt_running() {
  local p
  p=$(mqtt_pid) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null \
    && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mosquitto ]
}
# An existing accounts file from an earlier version is brought up to date (client ids bound,
# cloud roles narrowed) while the broker is stopped: the broker owns the file while it runs.
if ! dynsec_init --check; then
  if mqtt_running; then
    log "updating the broker's accounts: stopping the robocover broker"
    kill "$(mqtt_pid)"
    for _ in $(seq 50); do mqtt_running || break; sleep 0.1; done
  fi
  dynsec_init --reconcile
  chown mosquitto: "$DYNSEC_FILE" 2>/dev/null || true
fi
if [ ! -f "$conf_file" ] || [ "$(cat "$conf_file")" != "$conf_new" ]; then
  printf '%s\n' "$conf_new" > "$conf_file"
  if mqtt_running; then
    log "broker configuration changed: restarting the robocover broker"
    kill "$(mqtt_pid)"
    for _ in $(seq 50); do mqtt_running || break; sleep 0.1; done
  fi
fi
touch "$MQTT_DIR/mosquitto.log" && chown mosquitto: "$MQTT_DIR/mosquitto.log" "$MQTT_DIR" 2>/dev/null || true
if ! mqtt_running; then
  rm -f "$MQTT_DIR/mosquitto.pid"  # stale: its broker is gone
  log "starting the robocover broker on 127.0.0.1:$MQTT_PORT"
  mosquitto -d -c "$conf_file"
  for _ in $(seq 50); do admin_sub -h 127.0.0.1 -p "$MQTT_PORT" -t '$SYS/broker/version' -C 1 -W 1 \
    >/dev/null 2>&1 && break; sleep 0.1; done
fi
admin_sub -h 127.0.0.1 -p "$MQTT_PORT" -t '$SYS/broker/version' -C 1 -W 2 >/dev/null \
  || die "the broker on 127.0.0.1:$MQTT_PORT does not answer; see $MQTT_DIR/mosquitto.log"

# ---------------------------------------------------------------- Redis
apt_install redis-server redis-tools
if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/robocover.log
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || die "Redis does not answer on 127.0.0.1:$REDIS_PORT"

# ---------------------------------------------------------------- promtool
# Prometheus's rule checker, for the alert rules' tests (deploy/prometheus, tests/integration/ops).
# Only promtool is taken from Debian's prometheus package: installing the package would also set
# up and start a Prometheus server, which robocover does not run here.
PROMTOOL=/usr/local/bin/promtool
if [ ! -x "$PROMTOOL" ]; then
  if [ "$apt_updated" -eq 0 ]; then apt-get update -qq; apt_updated=1; fi
  log "installing promtool from Debian's prometheus package"
  work=$(mktemp -d)
  (cd "$work" && apt-get -o APT::Sandbox::User=root download -qq prometheus >/dev/null \
    && dpkg-deb -x prometheus_*.deb root) \
    || { rm -rf "$work"; die "could not fetch Debian's prometheus package"; }
  install -m 0755 "$work/root/usr/bin/promtool" "$PROMTOOL"
  rm -rf "$work"
fi
"$PROMTOOL" --version >/dev/null 2>&1 || die "$PROMTOOL does not run"

# ---------------------------------------------------------------- nginx
# The API gateway (deploy/nginx, docs/gateway.md): its tests and the demo run nginx processes of
# their own (their own prefix, pid file and ports); only the binary is needed here. Installed
# when missing, with Debian's nginx service neither started (policy-rc.d, for the install only)
# nor enabled at boot; a machine that already has nginx keeps it as it is.
if [ ! -x /usr/sbin/nginx ]; then
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt_install nginx || { [ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
  if command -v deb-systemd-helper >/dev/null; then deb-systemd-helper disable nginx.service >/dev/null 2>&1 || true; fi
  update-rc.d nginx disable >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------- chromium
# Debian's chromium, headless, for the demo report's browser test (tests/e2e/demo, driven by
# Playwright from PyPI through its executable_path: Playwright's own browser download is not used).
[ -x /usr/bin/chromium ] || apt_install chromium

log "ready: PostgreSQL $PG_VERSION + TimescaleDB on 127.0.0.1:5432, Mosquitto on 127.0.0.1:$MQTT_PORT, Redis on 127.0.0.1:$REDIS_PORT, nginx $(/usr/sbin/nginx -v 2>&1 | cut -d/ -f2) (not started)"
