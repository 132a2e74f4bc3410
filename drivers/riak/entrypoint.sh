#!/bin/sh
# evalrun's Riak entrypoint. It configures the node from the container's
# hostname and the EVALRUN_RIAK_* variables, then runs Riak in the
# foreground as this process (exec), so that `docker stop` and `docker kill`
# act on Riak itself. It works with Riak 3.x releases (riak foreground) and
# Riak 2.x packages (riak console -noinput).
#
#   node name        riak@<hostname>
#   cookie           EVALRUN_RIAK_COOKIE (default evalrun)
#   listeners        Protocol Buffers 0.0.0.0:8087, HTTP 0.0.0.0:8098,
#                    handoff 0.0.0.0 (whatever the release's riak.conf says)
#   data             EVALRUN_RIAK_DATA (default /data), kept across restarts
#   ring size        EVALRUN_RIAK_RING_SIZE (default 64)
#   backend          EVALRUN_RIAK_BACKEND (default bitcask)
#   transfer limit   EVALRUN_RIAK_TRANSFER_LIMIT (default: Riak's)
#   extra riak.conf  EVALRUN_RIAK_CONF: lines "key = value"
#
# The effective riak.conf is copied to $DATA/evalrun-riak.conf, so that a
# cold backup of the data directory carries the configuration too.
set -eu

die() { echo "evalrun-riak: $*" >&2; exit 1; }

riak=""
for c in "${EVALRUN_RIAK_BIN:-}" /opt/riak/bin/riak /usr/sbin/riak /usr/lib/riak/bin/riak; do
	if [ -n "$c" ] && [ -x "$c" ]; then riak=$c; break; fi
done
[ -n "$riak" ] || riak=$(command -v riak 2>/dev/null) || die "no riak command (looked in /opt/riak/bin, /usr/sbin, /usr/lib/riak/bin and PATH)"

conf=""
for c in "${EVALRUN_RIAK_CONF_FILE:-}" /opt/riak/etc/riak.conf /etc/riak/riak.conf /usr/lib/riak/etc/riak.conf; do
	if [ -n "$c" ] && [ -f "$c" ]; then conf=$c; break; fi
done
[ -n "$conf" ] || die "no riak.conf (looked in /opt/riak/etc, /etc/riak and /usr/lib/riak/etc)"

host=$(cat /proc/sys/kernel/hostname)
data=${EVALRUN_RIAK_DATA:-/data}
mkdir -p "$data"

# set KEY VALUE: drop every line that sets KEY, then append KEY = VALUE.
set_conf() {
	k=$(printf '%s' "$1" | sed 's/[.[\*^$]/\\&/g')
	sed -i "/^[[:space:]]*$k[[:space:]]*=/d" "$conf"
	printf '%s = %s\n' "$1" "$2" >>"$conf"
}

set_conf nodename "riak@$host"
set_conf distributed_cookie "${EVALRUN_RIAK_COOKIE:-evalrun}"
set_conf listener.protobuf.internal 0.0.0.0:8087
set_conf listener.http.internal 0.0.0.0:8098
# The handoff listener must be reachable from the other nodes: a sender
# connects to the address the target reports (its handoff.ip), and only
# 0.0.0.0 makes it use the target's host name instead. A release built for
# one host may say 127.0.0.1; in a container the sender would then reach
# its OWN listener, "hand off" to itself, and an ownership handoff would
# delete the only copies it moved (issue 9: a fifth of the keys lost after
# a join and a leave).
set_conf handoff.ip 0.0.0.0
set_conf platform_data_dir "$data"
set_conf ring_size "${EVALRUN_RIAK_RING_SIZE:-64}"
set_conf storage_backend "${EVALRUN_RIAK_BACKEND:-bitcask}"
if [ -n "${EVALRUN_RIAK_TRANSFER_LIMIT:-}" ]; then
	set_conf transfer_limit "$EVALRUN_RIAK_TRANSFER_LIMIT"
fi
if [ -n "${EVALRUN_RIAK_CONF:-}" ]; then
	printf '%s\n' "$EVALRUN_RIAK_CONF" | while IFS= read -r line; do
		case "$line" in
		*=*) set_conf "$(printf '%s' "${line%%=*}" | tr -d ' \t')" "$(printf '%s' "${line#*=}" | sed 's/^[[:space:]]*//')" ;;
		esac
	done
fi
cp "$conf" "$data/evalrun-riak.conf"

# Bitcask's write locks name the OS pid of the VM that took them and count
# as held while that pid runs. In a container the restarted VM gets the
# same pid as the one that was killed (a fresh pid namespace), so after a
# kill -9 bitcask would refuse every write ({error,locked}) and hinted
# handoff to this node would fail forever. No Riak runs on this data
# directory now: the locks are stale.
if [ -d "$data/bitcask" ]; then
	find "$data/bitcask" -name 'bitcask.*.lock' -type f -delete 2>/dev/null || true
fi

# A packaged Riak runs as user riak. An image built from a .deb did not run
# the package's scripts, so the user may be missing: create it.
case "$riak" in
/usr/sbin/riak | /usr/lib/riak/*)
	if ! id riak >/dev/null 2>&1 && command -v useradd >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/riak --shell /bin/sh riak 2>/dev/null || true
	fi
	;;
esac
if id riak >/dev/null 2>&1; then
	chown -R riak "$data" 2>/dev/null || true
fi

echo "evalrun-riak: riak@$host, data $data, config $conf, command $riak"
if "$riak" 2>&1 | grep -q foreground; then
	exec "$riak" foreground
fi
exec "$riak" console -noinput
