#!/usr/bin/env bash
# A compacted topic through the Kafka listener with Debian's kcat: a record without a key is
# refused (INVALID_RECORD) and nothing else with it, the cleaner compacts what kcat produced, kcat
# reads each key's newest value back from the cleaned segments, and an independent reader (Python,
# its own CRC-32C) finds every batch of every segment sound, offsets increasing, and each key once
# below the cleaner checkpoint.
#   kafka_compaction_test.sh KBUSD KBUS
set -euo pipefail
kbusd=$1 kbus=$2
command -v kcat >/dev/null || { echo "kafka_compaction_test: kcat is not installed" >&2; exit 1; }
test_name=kafka_compaction_test
source "$(dirname "$0")/daemon_test_lib.sh"

start_kbusd "$kbusd" "$kbus" --override listeners=PLAINTEXT://127.0.0.1:0 \
    --override log.cleaner.backoff.ms=50
broker=$(logged "Kafka listener on [0-9.:]*" | awk '{print $4}')
[[ -n $broker ]] || fail "no listener line in the log"
kc() { timeout 60 kcat -b "$broker" -q "$@"; }

"${K[@]}" topic create state --partitions 1 --config cleanup.policy=compact \
    --config segment.bytes=32768 \
    --config min.cleanable.dirty.ratio=0.01 >/dev/null

# A record without a key: refused with Kafka's INVALID_RECORD (librdkafka's words for it).
if printf 'no key\n' | timeout 60 kcat -b "$broker" -P -t state -p 0 2>"$work/keyless.err"; then
    fail "a record without a key went into a compacted topic"
fi
grep -q "Broker failed to validate record" "$work/keyless.err" || fail "keyless refusal: $(cat "$work/keyless.err")"
grep -q "Compacted topic cannot accept message without key" "$work/kbusd.log" ||
    fail "kbusd did not say why it refused the record"

# 4000 records over 50 keys, in 8 rounds; the newest value of k<n> is the last round's.
for round in $(seq 1 8); do
    for n in $(seq 0 499); do printf 'k%d:r%d-%0100d\n' $((n % 50)) "$round" "$n"; done
done | kc -P -t state -p 0 -K:
for _ in $(seq 600); do
    grep -q "log cleaner: cleaned state-0" "$work/kbusd.log" &&
        [[ $(awk 'NR==3 {print $3}' "$work/data/state-0/cleaner-offset-checkpoint" 2>/dev/null) -gt 0 ]] &&
        break
    sleep 0.1
done
grep -q "log cleaner: cleaned state-0" "$work/kbusd.log" || fail "the cleaner never ran"

kc -C -t state -p 0 -o beginning -e -f '%o %k %s\n' >"$work/read.txt"
records=$(wc -l <"$work/read.txt")
((records < 4000)) || fail "kcat read $records records: nothing was compacted"
awk '{print $1}' "$work/read.txt" | sort -n -c || fail "offsets out of order"
latest=$(awk '{v[$2] = $3} END {for (k in v) print k, substr(v[k], 1, 2)}' "$work/read.txt" | sort -u)
[[ $(echo "$latest" | wc -l) == 50 ]] || fail "keys read back: $(echo "$latest" | wc -l)"
echo "$latest" | grep -qv ' r8$' && fail "a key's newest value is not the last round's: $latest"

# Stopped first (SIGTERM, as systemctl does): no pass is swapping files while Python reads them.
kill "$daemon" && wait "$daemon" || fail "kbusd did not stop cleanly"
daemon=
python3 - "$work/data/state-0" <<'EOF' || fail "the independent reader rejected the segments"
import glob, os, struct, sys

def crc32c(data, table=[]):
    if not table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF

def varint(buf, pos):
    shift = value = 0
    while True:
        b = buf[pos]; pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7

part = sys.argv[1]
with open(os.path.join(part, "cleaner-offset-checkpoint")) as f:
    cleaned_to = int(f.read().split()[4])
last = -1
below = {}
for path in sorted(glob.glob(os.path.join(part, "*.log"))):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        batch = data[pos:pos + 12 + length]
        magic = batch[16]
        crc = struct.unpack_from(">I", batch, 17)[0]
        assert magic == 2, (path, pos, "magic")
        assert crc == crc32c(batch[21:]), (path, pos, "crc")
        attributes, last_delta = struct.unpack_from(">hi", batch, 21)
        count = struct.unpack_from(">i", batch, 57)[0]
        assert base > last, (path, pos, "offsets go back")
        assert attributes & 7 == 0, "kcat sent uncompressed records"
        r = 61
        for _ in range(count):
            record_length, r = varint(batch, r)
            end = r + record_length
            r += 1  # attributes
            _, r = varint(batch, r)  # timestamp delta
            delta, r = varint(batch, r)
            klen, r = varint(batch, r)
            key = batch[r:r + klen]; r += klen
            offset = base + delta
            assert offset > last, (path, offset)
            last = offset
            if offset < cleaned_to:
                assert key not in below, ("key twice below the checkpoint", key, offset)
                below[key] = offset
            r = end
        pos += 12 + length
# A later pass, cut short by the stop, may have emptied the cleaned segments (round 8 supersedes
# every key) without moving the checkpoint: then nothing is below it, which is sound too.
assert last >= 0, "no record at all"
print("segments sound:", len(below), "keys below offset", cleaned_to)
EOF

grep -E "ERROR" "$work/kbusd.log" && fail "the daemon logged an error"
echo "kafka_compaction_test: ok"
