#!/usr/bin/env bash
# Records every verdict the wire gives, for comparing two builds (issue #11: "behaviour
# unchanged"). Run from a checkout after `cargo build --release`:
#   scripts/wire-verdicts.sh OUT_DIR
# writes OUT_DIR/verdicts.tsv (run, vector, verdict) and OUT_DIR/mutants.txt (the kill
# tables on the wire). Compare two with `diff A/verdicts.tsv B/verdicts.tsv`.
set -u
out=${1:?usage: scripts/wire-verdicts.sh OUT_DIR}
mkdir -p "$out"
bin=./target/release/lwm2m-certify
node_client='node clients/coap-node/launch.js {bs_uri} {endpoint}'
run() {
  local name=$1
  shift
  "$bin" "$@" --report-dir "$out/$name" -q >"$out/$name.log" 2>&1
  echo "$name: exit $?" >>"$out/exits.txt"
  jq -r --arg run "$name" '.results[] | [$run, .name, .verdict.verdict] | @tsv' \
    "$out/$name/report.json" >>"$out/verdicts.tsv"
}
: >"$out/verdicts.tsv"
: >"$out/exits.txt"
run wire-ref --client wire-ref
run wire-ref-all --client wire-ref --variations all
run coap-node --client "$node_client" --client-profile clients/coap-node/profile.toml
for m in register-lists-security-instance discover-without-ssid keeps-deleted-instance \
  answers-server-read-of-security read-adds-unwritten-resource registers-after-last-step \
  reuses-message-id bootstrap-paths-under-alternate-path; do
  run "misbehave-$m" --client "wire-misbehave:$m"
done
"$bin" --client wire-ref --mutants >"$out/mutants.txt" 2>&1
echo "mutants: exit $?" >>"$out/exits.txt"
sort -o "$out/verdicts.tsv" "$out/verdicts.tsv"
