#!/usr/bin/env bash
# Issue 3's benchmark: gridswarm's data grid against Kubo v0.38.1, side by
# side in one run, each daemon in a fresh repo:
#   1. add      import a random file (1 GiB) through a running daemon:
#               `gridswarm data add` vs `ipfs add --cid-version=1 -Q`, with
#               `sha256sum` as the floor; both must give the same CID.
#   2. fetch    a random file (256 MiB) fetched by B from A over loopback:
#               `gridswarm data get CID -o F` vs Kubo's `ipfs get` and
#               `ipfs cat > /dev/null` after `ipfs swarm connect`.
#   3. fetch3   gridswarm only: C fetches a file held by three providers
#               vs a file of the same size held by one.
# Runs alternate between the contenders (the order rotates every round) and
# each run starts from an empty store: for add, unpin + `data gc` / `ipfs
# repo gc`, checked with `data stat` / `ipfs repo stat`; for fetches, a fresh
# fetching repo and daemon, connected before the clock starts (`data gc`
# keeps the cache entries that `data get` records).
#
# Usage: bench/data/run.sh
#   BENCH_DATA_RUNS=5          runs per contender (median reported)
#   BENCH_DATA_ADD_MIB=1024    size of the add file
#   BENCH_DATA_FETCH_MIB=256   size of the fetched files
#   BENCH_DATA_GRIDSWARM=BIN   a prebuilt gridswarm (else built from this tree)
#   BENCH_DATA_KEEP=1          keep the scratch dir (repos, logs) at exit
#   BENCH_DATA_PROFILE=1       sample the daemons with perf during each run and
#                              append where their CPU time went (needs perf;
#                              use with BENCH_DATA_RUNS=1: timings are inflated)
#
# It builds both binaries (Kubo through bench/kubo/build.sh, which needs the
# Go module proxy the first time), then re-executes itself in a new network
# namespace that holds only loopback: Kubo 0.38 would otherwise reach the
# internet (AutoConf, delegated routing, telemetry). Needs unshare, ip, jq,
# ss, sha256sum. The report goes to stdout and to bench/out/data-<date>.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BENCH_DATA_BIN:-/tmp/gridswarm-bench-data}"
RUNS="${BENCH_DATA_RUNS:-5}"
ADD_MIB="${BENCH_DATA_ADD_MIB:-1024}"
FETCH_MIB="${BENCH_DATA_FETCH_MIB:-256}"

if [[ "${BENCH_DATA_IN_NETNS:-}" != 1 ]]; then
	for tool in unshare ip jq ss sha256sum; do
		command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing; install it (apt-get install -y iproute2 jq util-linux coreutils)" >&2; exit 1; }
	done
	mkdir -p "$BIN" "$ROOT/bench/out"
	if [[ -z "${BENCH_DATA_GRIDSWARM:-}" ]]; then
		(cd "$ROOT" && CGO_CFLAGS="${CGO_CFLAGS:-} -Wno-deprecated-declarations" go build -o "$BIN/gridswarm" ./cmd/gridswarm)
		BENCH_DATA_GRIDSWARM="$BIN/gridswarm"
	fi
	BENCH_DATA_IPFS="$("$ROOT/bench/kubo/build.sh" | tail -n 1)"
	export BENCH_DATA_IN_NETNS=1 BENCH_DATA_IPFS BENCH_DATA_GRIDSWARM
	unshare_flags=(--net)
	if [[ "$(id -u)" != 0 ]]; then
		# Without root, a user namespace lets us own the new network namespace.
		unshare_flags+=(--map-root-user)
	fi
	exec unshare "${unshare_flags[@]}" "${BASH_SOURCE[0]}" "$@"
fi

# ---- inside the namespace ------------------------------------------------

GS="$BENCH_DATA_GRIDSWARM"
IPFS="$BENCH_DATA_IPFS"
export GRIDSWARM_PASSWORD=bench IPFS_TELEMETRY=off
unset IPFS_PATH GRIDSWARM_PATH
ip link set lo up
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
W="$(mktemp -d /tmp/gridswarm-bench-data.XXXXXX)"
mkdir -p "$W/logs"
RES="$W/results.tsv" # scenario  contender  run  seconds  cpu_s  detail
: >"$RES"
TICK="$(getconf CLK_TCK)"
declare -A PID_OF=() # node name -> daemon pid
GS_LISTEN=""          # replaces the swarm listen list of new gridswarm repos when set
PROFILE="${BENCH_DATA_PROFILE:-}"
PERF_PID=""
mkdir -p "$W/perf"
PIDS=()

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

cleanup() {
	local rc=$? p i
	set +e # clean up as far as possible whatever fails
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if ((rc != 0)); then
		for p in "$W"/logs/*.log; do
			if [[ -s "$p" ]]; then
				echo "--- tail of $p" >&2
				tail -n 15 "$p" >&2
			fi
		done
	fi
	if [[ "${BENCH_DATA_KEEP:-}" == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "timed out after ${limit}s waiting for $what"
}

# ---- daemons --------------------------------------------------------------

gs() { "$GS" --repo "$W/$1" "${@:2}"; }

gs_start() { # NAME QUOTA_GIB [BOOTSTRAP]
	local n=$1 quota=$2 boot=${3:-}
	gs "$n" init --profile local >"$W/logs/$n.init.log" 2>&1
	sed -i "s/^\(\s*quota_gib\s*=\s*\).*/\1$quota.0/" "$W/$n/config.toml"
	if [[ -n "$GS_LISTEN" ]]; then
		sed -i "s#^\(\s*listen\s*=\s*\)\[.*#\1$GS_LISTEN#" "$W/$n/config.toml"
	fi
	local args=(daemon)
	[[ -n "$boot" ]] && args+=(--bootstrap "$boot")
	# The binary itself in the background (not a function), so $! is its pid.
	"$GS" --repo "$W/$n" "${args[@]}" >"$W/logs/$n.log" 2>&1 &
	PIDS+=($!)
	PID_OF[$n]=$!
	wait_for 60 "gridswarm daemon $n" jq -e '.swarm | length > 0' "$W/$n/api"
}

gs_tcp() { jq -r '.swarm[] | select(contains("/tcp/"))' "$W/$1/api" | head -n 1; }
gs_quic() { jq -r '.swarm[] | select(contains("/quic-v1/"))' "$W/$1/api" | head -n 1; }

gs_used() { gs "$1" data stat --json | jq -r '"\(.used_bytes) \(.blocks)"'; }

# gs_empty NAME: gc and check that the store holds nothing.
gs_empty() {
	gs "$1" data gc --json >/dev/null
	local used
	used="$(gs_used "$1")"
	[[ "$used" == "0 0" ]] || die "after data gc, $1 still stores $used (bytes blocks)"
}

k() { IPFS_PATH="$W/$1" "$IPFS" "${@:2}"; }

k_start() { # NAME FLATFS_SYNC(true|false)
	local n=$1 sync=$2
	k "$n" init --empty-repo --profile test >"$W/logs/$n.init.log" 2>&1
	k "$n" config --json AutoConf.Enabled false
	k "$n" config Routing.Type dht
	k "$n" config --json Bootstrap '[]'
	k "$n" config --json Discovery.MDNS.Enabled false
	k "$n" config Plugins.Plugins.telemetry.Config.Mode off
	# The same listeners as gridswarm's local profile.
	k "$n" config --json Addresses.Swarm '["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]'
	# --profile test turns flatfs's fsync off; Kubo's default (and gridswarm) keep it on.
	k "$n" config --json Datastore.Spec.mounts "$(k "$n" config Datastore.Spec.mounts | jq -c --argjson s "$sync" '(.[] | select(.type == "flatfs")).sync = $s')"
	IPFS_PATH="$W/$n" "$IPFS" daemon >"$W/logs/$n.log" 2>&1 &
	PIDS+=($!)
	PID_OF[$n]=$!
	wait_for 60 "kubo daemon $n" grep -q 'Daemon is ready' "$W/logs/$n.log"
}

k_tcp() { k "$1" id -f '<addrs>' | grep '/tcp/' | head -n 1; }

k_objects() { k "$1" repo stat | awk '/NumObjects/ {print $2}'; }

# k_empty NAME BASELINE [CID]: unpin CID, gc, check the object count.
k_empty() {
	[[ -n "${3:-}" ]] && { k "$1" pin rm "$3" >/dev/null 2>&1 || true; }
	k "$1" repo gc --quiet >/dev/null
	local n
	n="$(k_objects "$1")"
	[[ "$n" == "$2" ]] || die "after repo gc, $1 holds $n objects, want $2"
}

# ---- measuring ------------------------------------------------------------

# cpu_of NAMES...: "name=ticks ..." for the daemons, plus this shell's reaped
# children (the CLI clients) as "cli".
cpu_of() {
	local n out=""
	for n in "$@"; do
		out+="$n=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/${PID_OF[$n]}/stat") "
	done
	out+="cli=$(awk '{sub(/^.*\) /, ""); print $14 + $15}' "/proc/$$/stat")"
	echo "$out"
}

# tcp_sent NAMES...: "name=bytes ..." sent over TCP by each daemon so far.
tcp_sent() {
	local n out=""
	declare -A sent=()
	while read -r pid bytes; do sent[$pid]=$bytes; done < <(ss -tinpH | awk '
		/users:/ { pid = ""; if (match($0, /pid=[0-9]+/)) pid = substr($0, RSTART + 4, RLENGTH - 4) }
		/bytes_sent:/ { if (pid != "" && match($0, /bytes_sent:[0-9]+/)) s[pid] += substr($0, RSTART + 11, RLENGTH - 11) }
		END { for (p in s) print p, s[p] }')
	for n in "$@"; do out+="$n=${sent[${PID_OF[$n]}]:-0} "; done
	echo "$out"
}

# delta "a=1 b=2" "a=4 b=6" SCALE: "a=3/SCALE b=4/SCALE" with two decimals.
delta() {
	awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) { split(x[i], p, "="); split(y[i], q, "="); printf "%s%s=%.2f", (i > 1 ? " " : ""), p[1], (q[2] - p[2]) / s }
	}'
}

# measure SCENARIO CONTENDER RUN "NODES" CMD...: time CMD (stdout to
# $W/last.out), record seconds, CPU seconds per daemon and client, and the
# MB each daemon sent over TCP.
measure() {
	local scen=$1 who=$2 run=$3 c0 c1 s0 s1 t0 t1 nodes
	read -ra nodes <<<"$4"
	shift 4
	sync
	c0="$(cpu_of "${nodes[@]}")"
	s0="$(tcp_sent "${nodes[@]}")"
	[[ "$PROFILE" == 1 && ${#nodes[@]} -gt 0 ]] && perf_start "$scen-$who" "${nodes[@]}"
	t0=$EPOCHREALTIME
	"$@" >"$W/last.out" 2>>"$W/logs/client.log" || die "$scen/$who run $run failed: $*"
	t1=$EPOCHREALTIME
	c1="$(cpu_of "${nodes[@]}")"
	s1="$(tcp_sent "${nodes[@]}")"
	[[ "$PROFILE" == 1 && ${#nodes[@]} -gt 0 ]] && perf_stop "$scen-$who" "${nodes[@]}"
	local secs cpu
	secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	cpu="$(delta "$c0" "$c1" "$TICK")"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$who" "$run" "$secs" "$cpu" "$(delta "$s0" "$s1" 1000000)" >>"$RES"
	log "$scen $who run $run: ${secs}s  cpu[$cpu]"
}

# perf_start NAME NODES...: sample the daemons' stacks until perf_stop.
perf_start() {
	local name=$1 n pids=""
	shift
	for n in "$@"; do pids+="${pids:+,}${PID_OF[$n]}"; done
	perf record -F 499 -g -p "$pids" -o "$W/perf/$name.data" >"$W/logs/perf-$name.log" 2>&1 &
	PERF_PID=$!
	PIDS+=("$PERF_PID")
	wait_for 10 "perf to attach" test -s "$W/perf/$name.data"
}

# perf_stop NAME NODES...: stop perf and summarise each daemon: where its
# CPU time went (self time by function) and the share of a few subsystems
# (time inside them, callees included).
perf_stop() {
	local name=$1 n pid q keep=()
	shift
	kill -INT "$PERF_PID"
	wait "$PERF_PID" || true
	for q in "${PIDS[@]}"; do [[ "$q" == "$PERF_PID" ]] || keep+=("$q"); done
	PIDS=("${keep[@]}")
	for n in "$@"; do
		pid=${PID_OF[$n]}
		{
			echo "### $name: $n (pid $pid)"
			echo
			echo "self time, top functions (% of this daemon's samples):"
			perf report -i "$W/perf/$name.data" --pid "$pid" --percentage relative --no-children --sort sym --stdio --percent-limit 1.5 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 20 || true
			echo
			echo "inclusive time (callees included) of key functions:"
			perf report -i "$W/perf/$name.data" --pid "$pid" --percentage relative --children --sort sym --stdio 2>/dev/null |
				grep -E '^ +[0-9.]+% +[0-9.]+%' | awk '{ sub(/^ +/, ""); print }' |
				grep -E "$PERF_KEYS" | awk '{ printf "  %-8s %s\n", $1, $NF }' | head -n 40 || true
			echo
		} >>"$W/profile.txt"
	done
}

# Functions whose inclusive share says where the time goes (gridswarm's
# and Kubo's import, store, bitswap, transport, hashing, Go runtime).
PERF_KEYS='datagrid\.\(\*Grid\)\.(ensureLocal|exportAtomic)$|datagrid\.\(\*fetcher\)\.store$|datagrid\.\(\*writeDAG\)\.write$|datagrid\.verifyBlock$|balanced\.Layout$|DagBuilderHelper\)\.prepareNext$|go-ds-flatfs\.\(\*Datastore\)\.(doPut|putMany|Get)$|os\.\(\*File\)\.Sync$|sha256\.\(\*Digest\)\.Write$|bsnet\.\(\*impl\)\.handleNewStream$|proto\.Unmarshal$|yamux/v5\.\(\*Session\)\.(recvLoop|sendLoop)$|noise\.\(\*secureSession\)\.(Read|Write)$|chacha20poly1305\.chacha20Poly1305(Open|Seal)\.abi0$|gcm\.(open|seal)$|quic-go\.\(\*Conn\)\.run$|runtime\.(gcBgMarkWorker|mallocgc|memmove)$|multipart\.\(\*Reader\)\.NextPart$|tar\.\(\*Writer\)\.Write$|unixfile\.\(\*ufsFile\)\.Read$'

# rotate RUN ITEMS...: the items rotated left by RUN-1 places.
rotate() {
	local r=$1
	shift
	local a=("$@") n=$# i
	for ((i = 0; i < n; i++)); do echo "${a[(i + r - 1) % n]}"; done
}

randfile() { head -c "$(($2 << 20))" /dev/urandom >"$1"; }

same_file() { [[ "$(sha256sum <"$1")" == "$(sha256sum <"$2")" ]] || die "$2 differs from $1"; }

# ---- 1. add ---------------------------------------------------------------

bench_add() {
	local f="$W/add.bin" quota
	quota=$(((ADD_MIB * 4 + 1023) / 1024 + 4))
	log "add: ${ADD_MIB} MiB file, gridswarm vs Kubo (flatfs sync on and off)"
	randfile "$f" "$ADD_MIB"
	gs_start g-add "$quota"
	k_start k-add true
	k_start k-add-nosync false
	local kbase kbase2 want="" r who cid
	kbase="$(k_objects k-add)"
	kbase2="$(k_objects k-add-nosync)"
	cat "$f" >/dev/null # page cache: every contender reads it from memory
	for ((r = 1; r <= RUNS; r++)); do
		for who in $(rotate "$r" gridswarm kubo kubo-nosync sha256sum); do
			case $who in
			gridswarm)
				[[ -n "$want" ]] && { gs g-add data unpin "$want" >/dev/null; }
				gs_empty g-add
				measure add gridswarm "$r" g-add gs g-add data add --json "$f"
				cid="$(jq -r .cid "$W/last.out")"
				;;
			kubo)
				k_empty k-add "$kbase" "$want"
				measure add kubo "$r" k-add k k-add add --cid-version=1 -Q "$f"
				cid="$(cat "$W/last.out")"
				;;
			kubo-nosync)
				k_empty k-add-nosync "$kbase2" "$want"
				measure add kubo-nosync "$r" k-add-nosync k k-add-nosync add --cid-version=1 -Q "$f"
				cid="$(cat "$W/last.out")"
				;;
			sha256sum)
				measure add sha256sum "$r" "" sha256sum "$f"
				continue
				;;
			esac
			[[ -z "$want" ]] && want=$cid
			[[ "$cid" == "$want" ]] || die "add: $who gave CID $cid, another contender gave $want"
		done
	done
	ADD_CID=$want
	stop_all
	rm -f "$f"
}

stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
	PID_OF=()
}

# stop_node NAME: stop one daemon and delete its repo.
stop_node() {
	local n=$1 p=${PID_OF[$1]} q keep=()
	kill -TERM "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${PIDS[@]}"; do [[ "$q" == "$p" ]] || keep+=("$q"); done
	PIDS=("${keep[@]}")
	unset 'PID_OF[$n]'
	rm -rf "${W:?}/$n"
}

connected() { # NAME N: gridswarm node NAME is connected to at least N peers
	gs "$1" peers --json | jq -e "map(select(.connected)) | length >= $2"
}

# providers NAME CID PEER...: NAME finds every PEER among the providers of
# CID. Earlier fetchers announced it too (their records outlive them), so
# the list may hold more.
providers() {
	local n=$1 c=$2 ids
	shift 2
	ids="$(for p in "$@"; do jq -r .peer_id "$W/$p/api"; done | jq -R . | jq -sc .)"
	gs "$n" data providers --json "$c" | jq -e --argjson want "$ids" '[.[].id] as $got | $want - $got | length == 0'
}

# gs_fetcher NAME QUOTA BOOT PEERS: a fresh gridswarm node, connected to
# PEERS peers, its store checked empty. `data gc` keeps cache entries (what
# `data get` records), so a fetching node starts from a fresh repo each run.
gs_fetcher() {
	gs_start "$1" "$2" "$3"
	wait_for 60 "$1 to connect to $4 peers" connected "$1" "$4"
	local used
	used="$(gs_used "$1")"
	[[ "$used" == "0 0" ]] || die "fresh node $1 already stores $used (bytes blocks)"
}

# k_fetcher NAME PROVIDER: a fresh Kubo node connected to PROVIDER.
k_fetcher() {
	k_start "$1" true
	k "$1" swarm connect "$(k_tcp "$2")" >/dev/null
	local n
	n="$(k_objects "$1")"
	((n <= 1)) || die "fresh node $1 already holds $n objects"
}

# ---- 2. fetch, one provider, gridswarm vs Kubo ------------------------------

bench_fetch() {
	local f="$W/fetch.bin" quota=$(((FETCH_MIB * 4 + 1023) / 1024 + 2))
	log "fetch: ${FETCH_MIB} MiB from A to a fresh B, gridswarm vs Kubo"
	randfile "$f" "$FETCH_MIB"
	gs_start g-a "$quota"
	k_start k-a true
	local gcid kcid r who b out="$W/out"
	gcid="$(gs g-a data add --json "$f" | jq -r .cid)"
	kcid="$(k k-a add --cid-version=1 -Q "$f")"
	[[ "$gcid" == "$kcid" ]] || die "fetch: gridswarm added $gcid, Kubo $kcid"
	for ((r = 1; r <= RUNS; r++)); do
		for who in $(rotate "$r" gridswarm gridswarm-quic kubo-get kubo-cat); do
			rm -rf "$out"
			b="$who-b$r"
			case $who in
			gridswarm)
				gs_fetcher "$b" "$quota" "$(gs_tcp g-a)" 1
				measure fetch gridswarm "$r" "g-a $b" gs "$b" data get --json "$gcid" -o "$out"
				same_file "$f" "$out"
				;;
			gridswarm-quic)
				gs_fetcher "$b" "$quota" "$(gs_quic g-a)" 1
				measure fetch gridswarm-quic "$r" "g-a $b" gs "$b" data get --json "$gcid" -o "$out"
				same_file "$f" "$out"
				;;
			kubo-get)
				k_fetcher "$b" k-a
				measure fetch kubo-get "$r" "k-a $b" k "$b" get --progress=false "$kcid" -o "$out"
				same_file "$f" "$out"
				;;
			kubo-cat)
				k_fetcher "$b" k-a
				measure fetch kubo-cat "$r" "k-a $b" k "$b" cat --progress=false "$kcid"
				;;
			esac
			stop_node "$b"
		done
	done
	rm -rf "$out"
	stop_all
	rm -f "$f"
}

# ---- 3. fetch from three providers vs one (gridswarm) ----------------------

bench_fetch3() {
	local one="$W/one.bin" three="$W/three.bin" quota=$(((FETCH_MIB * 4 + 1023) / 1024 + 2))
	log "fetch3: ${FETCH_MIB} MiB to a fresh C from three providers vs one (gridswarm)"
	randfile "$one" "$FETCH_MIB"
	randfile "$three" "$FETCH_MIB"
	# TCP only, so that ss can tell how many bytes each provider sent.
	GS_LISTEN='["/ip4/127.0.0.1/tcp/0"]'
	gs_start a1 "$quota"
	local boot n
	boot="$(gs_tcp a1)"
	for n in a2 a3; do gs_start "$n" "$quota" "$boot"; done
	wait_for 60 "a1 to connect to a2 and a3" connected a1 2
	local cid1 cid3="" c r who out="$W/out"
	cid1="$(gs a1 data add --json "$one" | jq -r .cid)"
	for n in a1 a2 a3; do
		c="$(gs "$n" data add --json "$three" | jq -r .cid)"
		[[ -z "$cid3" || "$c" == "$cid3" ]] || die "fetch3: $n added $c, want $cid3"
		cid3=$c
	done
	for ((r = 1; r <= RUNS; r++)); do
		for who in $(rotate "$r" one three); do
			rm -rf "$out"
			c="c-$who$r"
			gs_fetcher "$c" "$quota" "$boot" 3
			if [[ $who == one ]]; then
				wait_for 60 "$c to find a1 providing $cid1" providers "$c" "$cid1" a1
				measure fetch3 one "$r" "a1 a2 a3 $c" gs "$c" data get --json "$cid1" -o "$out"
				same_file "$one" "$out"
			else
				wait_for 60 "$c to find a1, a2, a3 providing $cid3" providers "$c" "$cid3" a1 a2 a3
				measure fetch3 three "$r" "a1 a2 a3 $c" gs "$c" data get --json "$cid3" -o "$out"
				same_file "$three" "$out"
			fi
			stop_node "$c"
		done
	done
	rm -rf "$out"
	stop_all
	GS_LISTEN=""
	rm -f "$one" "$three"
}

# ---- report ---------------------------------------------------------------

# stats SCENARIO CONTENDER: "median_s runs_s median_cpu_detail median_sent_detail"
# Medians are taken per column; the CPU/sent details are those of the
# median-time run.
median_row() {
	awk -F'\t' -v s="$1" -v w="$2" '$1 == s && $2 == w { t[++n] = $4; c[n] = $5; m[n] = $6 }
	END {
		if (n == 0) exit 1
		for (i = 1; i <= n; i++) idx[i] = i
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[idx[j]] < t[idx[i]]) { x = idx[i]; idx[i] = idx[j]; idx[j] = x }
		mid = idx[int((n + 1) / 2)]
		med = (n % 2) ? t[mid] : (t[idx[n / 2]] + t[idx[n / 2 + 1]]) / 2
		runs = ""
		for (i = 1; i <= n; i++) runs = runs (i > 1 ? ", " : "") t[i]
		printf "%.3f\t%s\t%s\t%s\n", med, runs, c[mid], m[mid]
	}' "$RES"
}

mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1e6 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; } # speed ratio from times a (ours), b (theirs)
cpu_total() { awk '{ for (i = 1; i <= NF; i++) { split($i, p, "="); s += p[2] } } END { printf "%.1f", s }' <<<"$1"; }

# row SCENARIO CONTENDER LABEL BYTES BASELINE_SECS
row() {
	local med runs cpu sent vs="—"
	IFS=$'\t' read -r med runs cpu sent < <(median_row "$1" "$2")
	[[ -n "${5:-}" ]] && vs="$(ratio "$med" "$5")×"
	[[ -n "$sent" && "$1" != add ]] || sent="—"
	printf '| %s | %s | %s | %s | %s | %s (%s) | %s | %s |\n' "$1" "$3" "$runs" "$med" "$(mbps "$4" "$med")" "$(cpu_total "$cpu")" "$cpu" "$sent" "$vs"
}

med_of() { median_row "$1" "$2" | cut -f1; }

verdict() { # NAME RATIO TARGET
	if awk -v r="$2" -v t="$3" 'BEGIN { exit !(r >= t) }'; then echo "- $1: ${2}× (target ≥ ${3}×): **met**"; else echo "- $1: ${2}× (target ≥ ${3}×): **not met**"; fi
}

report() {
	local addb=$((ADD_MIB << 20)) fb=$((FETCH_MIB << 20)) kadd kget kcat gadd gget one three
	kadd="$(med_of add kubo)"
	kget="$(med_of fetch kubo-get)"
	kcat="$(med_of fetch kubo-cat)"
	gadd="$(med_of add gridswarm)"
	gget="$(med_of fetch gridswarm)"
	one="$(med_of fetch3 one)"
	three="$(med_of fetch3 three)"
	cat <<EOF
## Data grid run $(date -u +%Y-%m-%dT%H:%MZ)

- machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r), $(go version 2>/dev/null | cut -d' ' -f3-4 || echo "go ?")
- binaries: $("$GS" version 2>/dev/null | head -n 1); Kubo $("$IPFS" version --number)
- load average (1, 5, 15 min): start $LOAD_START, end $(cut -d' ' -f1-3 /proc/loadavg)
- runs: $RUNS per contender, alternating (order rotated each round); add: unpin + gc
  before each run, store checked empty; fetch: a fresh fetching repo and daemon each
  run, connected to the provider(s) before the clock starts (\`data gc\` keeps the
  cache entries \`data get\` records, so gc cannot empty a gridswarm fetcher)
- add CID (${ADD_MIB} MiB): \`$ADD_CID\` (gridswarm and Kubo agree)

MB/s is 10^6 bytes per second of file content. CPU s is user+system time of the
daemons and the CLI client for that run (the median-time run).

| benchmark | contender | runs (s) | median s | MB/s | CPU s (by process) | MB sent over TCP | speed vs Kubo |
|---|---|---|---|---|---|---|---|
$(row add gridswarm "gridswarm \`data add\`" "$addb" "$kadd")
$(row add kubo "Kubo \`ipfs add --cid-version=1 -Q\` (flatfs sync on)" "$addb" "$kadd")
$(row add kubo-nosync "Kubo, flatfs sync off (\`--profile test\`)" "$addb" "$kadd")
$(row add sha256sum "\`sha256sum\` (floor)" "$addb" "$kadd")
$(row fetch gridswarm "gridswarm \`data get -o\` (TCP)" "$fb" "$kget")
$(row fetch gridswarm-quic "gridswarm \`data get -o\` (QUIC)" "$fb" "$kget")
$(row fetch kubo-get "Kubo \`ipfs get -o\` (TCP)" "$fb" "$kget")
$(row fetch kubo-cat "Kubo \`ipfs cat > /dev/null\` (TCP)" "$fb" "$kget")
$(row fetch3 one "gridswarm, 1 provider (TCP)" "$fb")
$(row fetch3 three "gridswarm, 3 providers (TCP)" "$fb")

Targets:
$(verdict "add, gridswarm vs Kubo" "$(ratio "$gadd" "$kadd")" 1.00)
$(verdict "fetch, gridswarm (TCP) vs Kubo \`ipfs get\`" "$(ratio "$gget" "$kget")" 1.50)
$(verdict "fetch, gridswarm (TCP) vs Kubo \`ipfs cat\`" "$(ratio "$gget" "$kcat")" 1.50)
$(verdict "fetch, gridswarm (QUIC) vs Kubo \`ipfs get\`" "$(ratio "$(med_of fetch gridswarm-quic)" "$kget")" 1.50)
- fetch3, 3 providers vs 1: $(ratio "$three" "$one")× the speed
EOF
}

log "load average at start: $LOAD_START; scratch $W"
bench_add
bench_fetch
bench_fetch3
out="$ROOT/bench/out/data-$(date +%Y%m%d-%H%M%S).md"
if [[ "$PROFILE" == 1 ]]; then
	out="${out%.md}-profile.md"
	{
		echo "Profiled under perf (timings inflated; see the plain run for speeds)."
		echo
		report
		echo
		echo '```'
		cat "$W/profile.txt"
		echo '```'
	} | tee "$out"
else
	report | tee "$out"
fi
cp "$RES" "${out%.md}.tsv"
log "report written to $out"
