#!/usr/bin/env bash
# Makes the secrets compose.yaml reads, once: random passwords, the API's signing key, a
# self-signed certificate for the gateway and one for the broker's TLS listener, and the env
# files holding the URLs with their passwords. A file that exists is kept (run it again to add
# what is missing); nothing is printed but the names of the files made.
#
#   deploy/compose/make-secrets.sh [DIR]      (default: deploy/compose/secrets, git-ignored)
#
# DIR is 0700: no other user of the host reads into it. Its files are 0644, because docker
# compose bind-mounts a secret file with its host permissions and the containers run as their
# own users (robocover 10001, mosquitto, postgres, redis, nginx, grafana), not as the host's.
# For production, replace the self-signed certificates with real ones (same file names).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/secrets}
command -v openssl >/dev/null || { echo "make-secrets: openssl is needed" >&2; exit 1; }
install -d -m 0700 "$dir"
umask 022

made() { printf 'make-secrets: made %s\n' "$1"; }
# A URL-safe random token: it goes into URLs and configuration files unquoted.
token() { openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_' | cut -c1-43; }
secret() {
  local path=$dir/$1
  [ -s "$path" ] && return 0
  token > "$path.new" && mv "$path.new" "$path"
  chmod 0644 "$path"
  made "$1"
}

for name in postgres_password database_password redis_password mqtt_admin_password \
            mqtt_cloud_password mqtt_ingest_1_password mqtt_ingest_2_password \
            api_cursor_secret processor_webhook_secret grafana_admin_password; do
  secret "$name"
done

# The API's access tokens: EC P-256, PKCS#8 PEM (ES256); its key id names it in each token.
if [ ! -s "$dir/api_jwt_signing_key" ]; then
  openssl ecparam -name prime256v1 -genkey -noout \
    | openssl pkcs8 -topk8 -nocrypt -out "$dir/api_jwt_signing_key.new"
  mv "$dir/api_jwt_signing_key.new" "$dir/api_jwt_signing_key"
  chmod 0644 "$dir/api_jwt_signing_key"
  rm -f "$dir/api_jwt_key_id"
  made api_jwt_signing_key
fi
if [ ! -s "$dir/api_jwt_key_id" ]; then
  echo "robocover-$(date -u +%Y%m%d%H%M%S)" > "$dir/api_jwt_key_id"
  made api_jwt_key_id
fi

# Self-signed certificates (EC P-256, 825 days): the gateway's for https://localhost, the
# broker's for robots connecting to mqtts://localhost:8883 or to the mosquitto service.
certificate() {
  local name=$1 subject=$2 names=$3
  [ -s "$dir/$name.crt" ] && [ -s "$dir/$name.key" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/CN=$subject" -addext "subjectAltName=$names" \
    -keyout "$dir/$name.key.new" -out "$dir/$name.crt.new" 2>/dev/null
  mv "$dir/$name.key.new" "$dir/$name.key"
  mv "$dir/$name.crt.new" "$dir/$name.crt"
  chmod 0644 "$dir/$name.key" "$dir/$name.crt"
  made "$name.crt and $name.key"
}
certificate gateway localhost "DNS:localhost,IP:127.0.0.1"
certificate broker mosquitto "DNS:mosquitto,DNS:localhost,IP:127.0.0.1"

# The Redis server's configuration: its password (requirepass), read by redis-server as a file.
if [ ! -s "$dir/redis.conf" ]; then
  printf 'requirepass %s\n' "$(cat "$dir/redis_password")" > "$dir/redis.conf"
  chmod 0644 "$dir/redis.conf"
  made redis.conf
fi

# Env files (read by docker compose on the host, so 0600): the URLs carrying passwords.
env_file() {
  local name=$1
  shift
  [ -s "$dir/$name" ] && return 0
  (umask 077; printf '%s\n' "$@" > "$dir/$name")
  made "$name"
}
db=$(cat "$dir/database_password")
redis=$(cat "$dir/redis_password")
env_file cloud.env \
  "# Every cloud process: the database and Redis, with their passwords." \
  "ROBOCOVER_DATABASE_URL=postgresql://robocover:$db@timescaledb:5432/robocover" \
  "ROBOCOVER_REDIS_URL=redis://:$redis@redis:6379/0"
# The risk worker's Celery app and the jobs' both use Celery's default queue: each its own
# Redis database, so neither takes the other's tasks.
env_file risk.env \
  "# The risk worker: its own Redis database." \
  "ROBOCOVER_REDIS_URL=redis://:$redis@redis:6379/1"
env_file api.env \
  "# The API: verifies the payment processor's webhooks (give the processor the same secret)." \
  "ROBOCOVER_PROCESSOR_WEBHOOK_SECRET=$(cat "$dir/processor_webhook_secret")"
env_file jobs.env \
  "# The jobs worker: the payment processor and the SMTP relay, when there are ones." \
  "# Without them card payments wait and emails are dead-lettered (docs/deployment.md)." \
  "# ROBOCOVER_PROCESSOR_URL=https://processor.example" \
  "# ROBOCOVER_PROCESSOR_API_KEY=..." \
  "# ROBOCOVER_SMTP_HOST=smtp.example"
