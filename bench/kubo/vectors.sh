#!/usr/bin/env bash
# Regenerates datagrid/testdata/kubo-vectors.json from scratch: builds (or reuses)
# Kubo's ipfs via build.sh, writes the deterministic vector files, and records
# the CIDs `ipfs add --cid-version=1` gives them in a throwaway, offline repo.
#
# Usage: bench/kubo/vectors.sh [OUT_JSON]
#   (OUT_JSON defaults to datagrid/testdata/kubo-vectors.json in the repo)
# Never starts a daemon. Runs ipfs in an empty network namespace when the
# caller may (root, `unshare -n`), and with --offline in any case.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/datagrid/testdata/kubo-vectors.json}"
want_version=0.38.1

ipfs_bin="$("$here/build.sh" | tail -n 1)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export IPFS_PATH="$work/repo"

# Keep ipfs off every network, not just out of the bootstrap list.
netless=()
if unshare -n true 2>/dev/null; then
	netless=(unshare -n)
fi
ipfs() { "${netless[@]}" "$ipfs_bin" --offline "$@"; }

# Reference generator, straight from the spec: sha256("gridswarm-vector" ||
# uint64be(j)) for j = 0, 1, 2, … concatenated and truncated to n bytes.
mkdir -p "$work/gen"
cat > "$work/gen/main.go" <<'GO'
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

func write(path string, n int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	block := append([]byte("gridswarm-vector"), make([]byte, 8)...)
	for j := uint64(0); n > 0; j++ {
		binary.BigEndian.PutUint64(block[16:], j)
		sum := sha256.Sum256(block)
		k := min(n, int64(len(sum)))
		w.Write(sum[:k])
		n -= k
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// usage: gen PATH SIZE [PATH SIZE]...
func main() {
	for i := 1; i+1 < len(os.Args); i += 2 {
		n, err := strconv.ParseInt(os.Args[i+1], 10, 64)
		if err == nil {
			err = write(os.Args[i], n)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
GO
printf 'module gen\n\ngo 1.22\n' > "$work/gen/go.mod"
(cd "$work/gen" && GOWORK=off go build -o "$work/genbin" .)

# name kind size (files); nested is described separately.
files=(
	"empty 0"
	"one-byte 1"
	"one-chunk 262144"
	"one-chunk-plus-one 262145"
	"many-chunks $((200 * 262144 + 1))"
)
nested=("a.txt 100" "sub/b.bin 300000" "sub/deeper/c 0")

v="$work/vectors"
args=()
for f in "${files[@]}"; do
	set -- $f
	args+=("$v/$1" "$2")
done
for f in "${nested[@]}"; do
	set -- $f
	args+=("$v/nested/$1" "$2")
done
"$work/genbin" "${args[@]}"

# Cross-check the repo's own generator when it exists: it must write the same bytes.
if [[ -f "$root/datagrid/internal/genvectors/main.go" ]]; then
	(cd "$root" && go run ./datagrid/internal/genvectors "$work/repo-gen")
	for ((i = 0; i < ${#args[@]}; i += 2)); do
		rel="${args[i]#"$v/"}"
		if [[ -e "$work/repo-gen/$rel" ]]; then
			cmp "$v/$rel" "$work/repo-gen/$rel" ||
				{ echo "datagrid/internal/genvectors disagrees with the spec on $rel" >&2; exit 1; }
		else
			echo "note: datagrid/internal/genvectors did not write $rel" >&2
		fi
	done
fi

ipfs init --profile test >/dev/null
got_version="$(ipfs version --number)"
[[ "$got_version" == "$want_version" ]] ||
	{ echo "ipfs reports $got_version, want $want_version; rebuild with build.sh" >&2; exit 1; }

# add PATH [FLAGS]: CID of PATH with --cid-version=1, checked against --raw-leaves.
add() {
	local p="$1"; shift
	local cid raw
	cid="$(ipfs add --cid-version=1 -Q "$@" "$p")"
	raw="$(ipfs add --cid-version=1 --raw-leaves -Q "$@" "$p")"
	if [[ "$cid" != "$raw" ]]; then
		echo "$p: --cid-version=1 gave $cid but with --raw-leaves $raw" >&2
		exit 1
	fi
	echo "$cid"
}

vectors='[]'
for f in "${files[@]}"; do
	set -- $f
	cid="$(add "$v/$1")"
	vectors="$(jq -c --arg n "$1" --argjson s "$2" --arg c "$cid" \
		'. + [{name: $n, kind: "file", size: $s, cid: $c}]' <<<"$vectors")"
done
cid="$(add "$v/nested" -r)"
tree='{}'
for f in "${nested[@]}"; do
	set -- $f
	tree="$(jq -c --arg p "$1" --argjson s "$2" '. + {($p): $s}' <<<"$tree")"
done
vectors="$(jq -c --argjson t "$tree" --arg c "$cid" \
	'. + [{name: "nested", kind: "dir", files: $t, cid: $c}]' <<<"$vectors")"

mkdir -p "$(dirname "$out")"
jq -n --indent 2 --arg k "$want_version" --argjson v "$vectors" '{
	kubo: $k,
	command: "ipfs add --cid-version=1 -Q (files) / -r -Q (dirs)",
	generator: "sha256(\"gridswarm-vector\" || uint64be(j)) stream truncated to size",
	vectors: $v
}' > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out" >&2
