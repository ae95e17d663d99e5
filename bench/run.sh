#!/usr/bin/env bash
# make bench: sysbench through shardgate, a bare TCP relay and direct MariaDB, in one sitting.
# Builds bin/shardgate, bin/relay and bin/sgbench, then runs bench/cmd/sgbench (see bench/README.md).
#
#   BENCH_TIME=30 BENCH_ROUNDS=3 bench/run.sh
#   BENCH_RECORD=bench/RESULTS.md bench/run.sh     # also append the markdown section there
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -x /usr/local/go/bin/go ]; then
	export PATH=/usr/local/go/bin:$PATH
fi

missing=$(scripts/deps.sh missing mariadb-server sysbench || true)
if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		scripts/deps.sh install $missing
	else
		echo "make bench needs: $missing (sudo apt-get install -y $missing)" >&2
		exit 1
	fi
fi

version=$(git describe --always --dirty 2>/dev/null || echo dev)
mkdir -p bin
go build -ldflags "-X main.version=$version" -o bin/shardgate ./cmd/shardgate
go build -o bin/relay ./bench/relay
go build -o bin/sgbench ./bench/cmd/sgbench

# the command to record with the figures: make bench with the settings given
cmd="make bench"
for v in BENCH_TIME BENCH_ROUNDS BENCH_THREADS BENCH_ROWS BENCH_MODES BENCH_TESTS BENCH_WARMUP BENCH_SYSBENCH_ARGS BENCH_TARGETS BENCH_BASELINE \
	BENCH_SCAN_ROWS BENCH_SCAN_REPS BENCH_SCAN_PROTOCOLS BENCH_MUX_THREADS BENCH_MUX_DIRECT_THREADS BENCH_MUX_POOL BENCH_MUX_TEST; do
	if [ -n "${!v:-}" ]; then
		cmd="$v=$(printf %q "${!v}") $cmd"
	fi
done

exec bin/sgbench -shardgate bin/shardgate -relay bin/relay -command "$cmd" "$@"
