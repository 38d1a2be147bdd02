#!/bin/sh
# docker-entrypoint-initdb.d hook of the postgres service: the role the API and workers run as.
# It owns nothing and is no superuser; `sfd db upgrade` (run as the owner, with
# SFD_DATABASE_APP_ROLE=sfd_app) grants it what it needs after every migration.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE sfd_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${SFD_APP_DB_PASSWORD}';
GRANT CONNECT ON DATABASE ${POSTGRES_DB} TO sfd_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
