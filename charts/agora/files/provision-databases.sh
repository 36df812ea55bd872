#!/bin/bash
# Creates (or repairs) one database and one login role per Agora service, idempotently, on every start of
# the Postgres container (run as its postStart hook). Running on every start instead of only from
# /docker-entrypoint-initdb.d keeps the roles' passwords in step with the credentials Secret after an
# upgrade and adds databases for services enabled later. It connects over TCP on purpose: the image's
# first-start init server listens on the Unix socket only, so this waits for the real server.
# Input: AGORA_DATABASES="catalog inventory order_history …" and, per database, PASSWORD_<DB in upper case>.
set -euo pipefail
export PGPASSWORD="$POSTGRES_PASSWORD"
for _ in $(seq 1 180); do
  pg_isready -q -h 127.0.0.1 -U postgres && break
  sleep 1
done
for db in $AGORA_DATABASES; do
  var="PASSWORD_${db^^}"
  psql -v ON_ERROR_STOP=1 -q -h 127.0.0.1 -U postgres -d postgres -v name="$db" -v password="${!var}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
ALTER ROLE :"name" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name') \gexec
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT ALL ON DATABASE :"name" TO :"name";
SQL
done
echo "provisioned databases: $AGORA_DATABASES"
