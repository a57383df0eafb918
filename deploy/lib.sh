# Shared by the deployment-mode scripts in this directory (sourced, not run).
# Each process runs on its own loopback address with the default ports, as
# the hosts of a real deployment would; Linux routes all of 127/8 to lo, so
# no alias is needed (on macOS: sudo ifconfig lo0 alias 127.0.3.N up).

set -euo pipefail
# Job control: each process gets its own process group, so a Ctrl-C in the
# terminal reaches only this shell, whose trap stops the processes once,
# with SIGTERM, in order. (Without it they would get the Ctrl-C too, and
# the trap's SIGTERM would be a second signal, which kills twinmq's clean
# shutdown.)
set -m

TWINMQ=${TWINMQ:-twinmq}          # the binary: TWINMQ=./twinmq deploy/...
CLUSTER=${CLUSTER:-DefaultCluster}
NS_HOST=127.0.3.1
NS=$NS_HOST:9876

if [ $# -ne 1 ]; then
	echo "usage: $0 DATA_DIR   (the data and logs of every process go under DATA_DIR)" >&2
	exit 2
fi
DATA=$1
mkdir -p "$DATA"

pids=()    # every process started, the name server first
kafka=()   # the masters' Kafka listeners
metrics=() # every broker's /metrics

# start NAME ARGS...: runs `twinmq ARGS...` in the background, its output
# in DATA/NAME.log.
start() {
	local name=$1
	shift
	"$TWINMQ" "$@" >"$DATA/$name.log" 2>&1 &
	pids+=($!)
	echo "started $name (pid $!), log $DATA/$name.log"
}

# namesrv: the name server, and wait until it listens (a master that
# cannot register at start tries again only 30 s later).
namesrv() {
	start namesrv namesrv --namesrv-listen "$NS"
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/$NS_HOST/9876") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "the name server did not listen on $NS in 10 s; see $DATA/namesrv.log" >&2
	stop 1
}

# broker NAME ID ROLE HOST [FLAGS...]: member ID of broker group NAME.
broker() {
	local name=$1 id=$2 role=$3 host=$4
	shift 4
	start "$name-$id" broker --data-dir "$DATA/$name-$id" \
		--broker-cluster-name "$CLUSTER" --broker-name "$name" --broker-id "$id" --broker-role "$role" \
		--kafka-addr "$host:9092" --remoting-addr "$host:10911" --ha-addr "$host:10912" \
		--http-addr "$host:8080" --namesrv-addr "$NS" "$@"
	if [ "$role" != SLAVE ]; then
		kafka+=("$host:9092")
	fi
	metrics+=("http://$host:8080/metrics")
}

# stop [CODE]: SIGTERM to the brokers, newest first, and once they are
# gone (each unregisters from the name server) to the name server; then
# exit with CODE. twinmq stops cleanly on SIGTERM.
stop() {
	trap - INT TERM
	echo "stopping..."
	local i
	for ((i = ${#pids[@]} - 1; i >= 1; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	for ((i = ${#pids[@]} - 1; i >= 1; i--)); do
		wait "${pids[i]}" 2>/dev/null || true
	done
	if [ ${#pids[@]} -gt 0 ]; then
		kill -TERM "${pids[0]}" 2>/dev/null || true
		wait "${pids[0]}" 2>/dev/null || true
	fi
	echo "stopped"
	exit "${1:-0}"
}

# serve MODE: prints where clients connect, then waits for Ctrl-C (or
# SIGTERM), or for a process to exit on its own, and stops everything.
serve() {
	cat <<MSG

twinmq: $1 (cluster $CLUSTER)
  RocketMQ clients: name server $NS
  Kafka clients:    ${kafka[*]}
                    (each broker group is its own one-node Kafka cluster for now:
                    bootstrap from one master; a slave serves no Kafka)
  see the cluster:  $TWINMQ cluster info --namesrv-addr $NS
  metrics:          ${metrics[*]}
  logs:             $DATA/*.log
Ctrl-C stops everything.
MSG
	trap 'stop 0' INT TERM
	wait -n || true
	echo "a process exited on its own; see the logs in $DATA" >&2
	stop 1
}
