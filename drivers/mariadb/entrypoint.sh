#!/bin/sh
# evalrun's MariaDB entrypoint. It initialises an empty data directory once,
# then runs mariadbd in the foreground as this process (exec), so that
# `docker stop` and `docker kill` act on the server itself. It works in the
# official mariadb image and in evalrun's Debian image (both have /bin/sh,
# mariadb-install-db and mariadbd on PATH).
#
#   data       EVALRUN_MARIADB_DATA (default /var/lib/mysql), bind-mounted
#              from the run's work directory and kept across restarts
#   account    EVALRUN_MARIADB_USER with password EVALRUN_MARIADB_PASSWORD
#              (letters and digits), created at initialisation, before the
#              binary log exists: it is no transaction of any node
#   server     "$@": mariadbd's options (server-id, binary log, ...)
#
# The server reads no option file (--no-defaults): the same options give the
# same server in either image. root@localhost authenticates by unix_socket
# only (docker exec ... mariadb works, nothing over the network does).
# Running as root, the server runs as user mysql and owns the data
# directory; running as another user (docker run --user), as that user.
set -eu

die() { echo "evalrun-mariadb: $*" >&2; exit 1; }

data=${EVALRUN_MARIADB_DATA:-/var/lib/mysql}
user=${EVALRUN_MARIADB_USER:-evalrun}
password=${EVALRUN_MARIADB_PASSWORD:-}
case "$user" in "" | *[!A-Za-z0-9_]*) die "EVALRUN_MARIADB_USER must be letters, digits or _" ;; esac
case "$password" in "" | *[!A-Za-z0-9]*) die "EVALRUN_MARIADB_PASSWORD must be letters and digits" ;; esac

# The socket and pid file go to /run/mysqld (where the mariadb client looks)
# when the server runs as mysql, else to the data directory, the one place
# another user may write.
as=""
run=$data
mkdir -p "$data"
if [ "$(id -u)" = 0 ]; then
	as=--user=mysql
	run=/run/mysqld
	mkdir -p "$run"
	chown -R mysql:mysql "$data" "$run"
fi

# The marker is written last: a node killed during initialisation starts
# over from an empty directory.
marker="$data/evalrun-initialised"
if [ ! -f "$marker" ]; then
	find "$data" -mindepth 1 -delete
	mariadb-install-db --no-defaults $as --datadir="$data" --skip-test-db --skip-name-resolve \
		--auth-root-authentication-method=socket >"$data/evalrun-install.log" 2>&1 ||
		{ cat "$data/evalrun-install.log" >&2; die "mariadb-install-db failed"; }
	# The account may administer replication (a restored primary's
	# gtid_binlog_state too), take backups (mariabackup, mariadb-dump) and
	# use the evalrun schema, but not bypass read_only (no SUPER, no
	# READ_ONLY ADMIN): a write that reaches a replica fails.
	# ${user}_admin (same password) changes a node's role in a failover:
	# read_only and the primary's semi-sync side; the harness never writes
	# data with it.
	printf '%s\n' "FLUSH PRIVILEGES;" \
		"CREATE USER '$user'@'%' IDENTIFIED BY '$password';" \
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, LOCK TABLES, RELOAD, PROCESS, REPLICATION SLAVE, REPLICATION MASTER ADMIN, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN ON *.* TO '$user'@'%';" \
		"CREATE USER '${user}_admin'@'%' IDENTIFIED BY '$password';" \
		"GRANT SELECT, PROCESS, BINLOG MONITOR, SLAVE MONITOR, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, READ_ONLY ADMIN ON *.* TO '${user}_admin'@'%';" |
		mariadbd --no-defaults $as --datadir="$data" --bootstrap --log-warnings=0 \
			>>"$data/evalrun-install.log" 2>&1 ||
		{ cat "$data/evalrun-install.log" >&2; die "creating user $user failed"; }
	touch "$marker"
fi

# A data directory made from a backup may carry statements to run once
# before the server serves (a clone's replication position, which read_only
# would refuse once it runs): the harness writes them, the server in
# bootstrap mode runs them, without a binary log.
init="$data/evalrun-init.sql"
if [ -f "$init" ]; then
	mariadbd --no-defaults $as --datadir="$data" --bootstrap --log-warnings=0 <"$init" \
		>>"$data/evalrun-install.log" 2>&1 ||
		{ tail -20 "$data/evalrun-install.log" >&2; die "running $init failed"; }
	rm -f "$init"
fi

# A node the harness starts as a replica starts in the replica's role: after
# a crash, recovery then drops what its binary log holds that the engine
# had not committed (a semi-sync commit no replica acknowledged) instead of
# committing it as a transaction the new primary lacks (MDEV-33465,
# MariaDB 10.11.9 and later). A primary must not: what its replicas hold
# would be gone from it.
role=
if [ -f "$data/evalrun-rpl-role" ]; then
	role="--init-rpl-role=$(cat "$data/evalrun-rpl-role")"
fi
exec mariadbd --no-defaults $as --datadir="$data" --socket="$run/mysqld.sock" --pid-file="$run/mysqld.pid" $role "$@"
