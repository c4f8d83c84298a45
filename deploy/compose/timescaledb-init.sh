#!/bin/bash
# Runs once, when the timescaledb container initialises an empty data volume (after the
# image's own 000_install_timescaledb.sh, which creates the extension in POSTGRES_DB): the
# application's role, owner of the robocover database, with its password from a secret file.
# It is no superuser: `robocover migrate` finds the extension already there.
set -euo pipefail
password_file=/run/secrets/database_password
[ -s "$password_file" ] || { echo "timescaledb-init: $password_file is missing or empty" >&2; exit 1; }
# psql reads the password from the file itself into a variable it quotes: it is on no command
# line and in no environment.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\set password `cat /run/secrets/database_password`
CREATE ROLE robocover LOGIN PASSWORD :'password';
ALTER DATABASE robocover OWNER TO robocover;
ALTER SCHEMA public OWNER TO robocover;
SQL
