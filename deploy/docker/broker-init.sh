#!/bin/sh
# The broker's accounts before it starts (docker compose's broker-init, Kubernetes' init
# container of mosquitto): scripts/dynsec_init.py, as scripts/services-up.sh runs it, for the
# admin, the cloud service account and one account per ingest process.
#
#   broker-init.sh DYNSEC_FILE SECRETS_DIR [INGEST_DIR]
#
# SECRETS_DIR holds mqtt_admin_password and mqtt_cloud_password; INGEST_DIR (SECRETS_DIR/ingest
# unless given) one file per ingest process, named by its account (= its client id), holding
# its password.
# The first account creates the file; each other one is added by --reconcile, only when
# --check says something is missing (the broker owns the file while it runs: stop it before
# adding an account to a running deployment). Passwords are read from files, never arguments.
set -eu

[ "$#" -eq 2 ] || [ "$#" -eq 3 ] \
  || { echo "usage: broker-init.sh DYNSEC_FILE SECRETS_DIR [INGEST_DIR]" >&2; exit 2; }
file=$1
secrets=$2
ingest=${3:-$secrets/ingest}
here=$(dirname "$0")

dynsec() {
  account=$1
  shift
  python "$here/dynsec_init.py" --file "$file" \
    --admin-username admin --admin-password-file "$secrets/mqtt_admin_password" \
    --cloud-username robocover-cloud --cloud-password-file "$secrets/mqtt_cloud_password" \
    --ingest-username "$account" --ingest-password-file "$ingest/$account" "$@"
}

accounts=0
for path in "$ingest"/*; do
  [ -f "$path" ] || continue
  account=$(basename "$path")
  accounts=$((accounts + 1))
  if [ ! -f "$file" ]; then
    dynsec "$account"
    echo "broker-init: created $file with admin, robocover-cloud and $account"
  elif ! dynsec "$account" --check; then
    dynsec "$account" --reconcile
    echo "broker-init: brought $file up to date for $account"
  fi
done
[ "$accounts" -gt 0 ] || { echo "broker-init: no ingest account in $ingest" >&2; exit 2; }
echo "broker-init: $accounts ingest account(s) in $file"
