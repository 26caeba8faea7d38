#!/bin/bash
# postgres image initdb hook (mounted into /docker-entrypoint-initdb.d): the
# application's login as infra's bootstrap creates it in RDS, not a
# superuser, owner of the app database. It runs once, when the data volume is
# empty. The values come from docker-compose.yml; they are local-only dummies.
set -euo pipefail

: "${POSTGRES_USER:?}" "${ZT_APP_USER:?}" "${ZT_APP_PASSWORD:?}" "${ZT_APP_DB:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set app_user="$ZT_APP_USER" --set app_password="$ZT_APP_PASSWORD" --set app_db="$ZT_APP_DB" <<'SQL'
CREATE ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
SQL
echo "zt: created login $ZT_APP_USER, owner of database $ZT_APP_DB"
