"""kafka-python (Debian's python3-kafka) against kbusd's Kafka listener, at its defaults: it picks
its protocol versions from our ApiVersions answer. Each step prints one line; a failing step
raises, and the script exits non-zero naming it.
    kafka_python_client.py BROKER
"""
import sys
import threading
import time
import uuid

import kafka.codec
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.partitioner.default import murmur2

broker = sys.argv[1]
run = uuid.uuid4().hex[:8]


def step(name):
    print(f"kafka-python: {name}", flush=True)


admin = KafkaAdminClient(bootstrap_servers=broker, client_id="kbus-test")
step(f"broker version guessed from ApiVersions: {admin.config['api_version']}")

topic = f"py-{run}"
admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
assert topic in admin.list_topics(), "created topic not listed"
step("admin create and list")

producer = KafkaProducer(bootstrap_servers=broker)
keys = [f"key-{i}".encode() for i in range(30)]
sent = {}
for i, key in enumerate(keys):
    md = producer.send(topic, key=key, value=f"value-{i}".encode(),
                       headers=[("h", f"{i}".encode())], timestamp_ms=1_700_000_000_000 + i
                       ).get(timeout=30)
    want = (murmur2(key) & 0x7FFFFFFF) % 3
    assert md.partition == want, f"{key} on {md.partition}, murmur2 says {want}"
    sent[key] = (md.partition, md.offset)
step("keyed produce, placed by murmur2")

codecs = [c for c, has in (("gzip", True), ("snappy", kafka.codec.has_snappy()),
                            ("lz4", kafka.codec.has_lz4()), ("zstd", kafka.codec.has_zstd()))
          if has]
for codec in codecs:
    p = KafkaProducer(bootstrap_servers=broker, compression_type=codec)
    for i in range(10):
        p.send(topic, key=b"c", value=f"{codec}-{i}".encode())
    p.flush(timeout=30)
    p.close()
missing = sorted({"gzip", "snappy", "lz4", "zstd"} - set(codecs))
step(f"compressed produce: {', '.join(codecs)}" +
     (f" ({', '.join(missing)}: python module not installed)" if missing else ""))

consumer = KafkaConsumer(topic, bootstrap_servers=broker, auto_offset_reset="earliest",
                         consumer_timeout_ms=5000)
got = {}
compressed = set()
for m in consumer:
    if m.key == b"c":
        compressed.add(m.value.decode())
    if m.key in sent and m.value.startswith(b"value-"):
        i = int(m.value.split(b"-")[1])
        assert m.headers == [("h", f"{i}".encode())], m.headers
        assert m.timestamp == 1_700_000_000_000 + i, m.timestamp
        got[m.key] = (m.partition, m.offset)
consumer.close()
assert got == sent, f"read back {len(got)} of {len(sent)}"
want = {f"{codec}-{i}" for codec in codecs for i in range(10)}
assert compressed == want, f"compressed records read back: {sorted(want - compressed)} missing"
step("consume with headers and timestamps")

group = f"g-{run}"
first = KafkaConsumer(topic, bootstrap_servers=broker, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=5000)
count = sum(1 for _ in first)
first.commit()
first.close()
assert count == len(keys) + 10 * len(codecs), f"group read {count}"
producer.send(topic, key=b"late", value=b"after-commit").get(timeout=30)
again = KafkaConsumer(topic, bootstrap_servers=broker, group_id=group,
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
rest = [m.value for m in again]
again.close()
assert rest == [b"after-commit"], f"resumed with {rest}"
step("group commit and resume")

listed = [g for g, _ in admin.list_consumer_groups()]
assert group in listed, f"groups listed: {listed}"
described = admin.describe_consumer_groups([group])[0]
assert described.group == group and described.state == "Empty", described
offsets = admin.list_consumer_group_offsets(group)
assert sum(o.offset for o in offsets.values()) == len(keys) + 10 * len(codecs) + 1, offsets
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
assert entries.get("retention.ms") == "604800000" and entries.get("segment.bytes"), entries
cluster = admin.describe_cluster()
assert cluster["cluster_id"] and len(cluster["brokers"]) == 1, cluster
results = admin.delete_consumer_groups([group])
assert results == [(group, None)] or all(r[1].errno == 0 for r in results), results
assert group not in [g for g, _ in admin.list_consumer_groups()], "deleted group still listed"
step("admin: list, describe and delete groups; describe configs and cluster")

# Two members, each polling in its own thread (as two processes would): the second's join makes
# the group rebalance, and the partitions split between them.
members = [KafkaConsumer(topic, bootstrap_servers=broker, group_id=f"r-{run}",
                         auto_offset_reset="earliest") for _ in range(2)]
stop = threading.Event()


def poll_until_stopped(consumer):
    while not stop.is_set():
        consumer.poll(timeout_ms=100)


threads = [threading.Thread(target=poll_until_stopped, args=(m,)) for m in members]
threads[0].start()
time.sleep(2)
threads[1].start()
deadline = time.time() + 60
while time.time() < deadline:
    pa, pb = members[0].assignment(), members[1].assignment()
    if pa and pb and len(pa) + len(pb) == 3 and not (pa & pb):
        break
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()
assignments = [m.assignment() for m in members]
for m in members:
    m.close()
assert all(assignments) and sum(map(len, assignments)) == 3, f"no rebalance: {assignments}"
step("rebalance with a second member")

# By time: the first record at or after the time asked, with that record's own timestamp.
c = KafkaConsumer(bootstrap_servers=broker)
partition = sent[keys[0]][0]
times = sorted(1_700_000_000_000 + i for i, k in enumerate(keys) if sent[k][0] == partition)
gap = next(i for i in range(len(times) - 1) if times[i + 1] > times[i] + 1)
tp = TopicPartition(topic, partition)
found = c.offsets_for_times({tp: times[gap] + 1})[tp]
assert found is not None and found.timestamp == times[gap + 1], (found, times[gap + 1])
c.close()
step("list offsets by time")

# Topic changes: a config altered (AlterConfigs), partitions added (CreatePartitions).
changed = f"py-alter-{run}"
admin.create_topics([NewTopic(changed, num_partitions=2, replication_factor=1)])
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, changed,
                                    configs={"retention.ms": "3600000"})])
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, changed)])
entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
assert entries.get("retention.ms") == "3600000", entries
admin.create_partitions({changed: NewPartitions(total_count=4)})
c = KafkaConsumer(bootstrap_servers=broker)
deadline = time.time() + 10
while c.partitions_for_topic(changed) != {0, 1, 2, 3} and time.time() < deadline:
    time.sleep(0.2)
    c.topics()  # a metadata refresh
assert c.partitions_for_topic(changed) == {0, 1, 2, 3}, c.partitions_for_topic(changed)
c.close()
step("admin: alter configs and create partitions")

admin.delete_topics([topic, changed])
assert topic not in admin.list_topics(), "deleted topic still listed"
admin.close()
producer.close()
step("admin delete")

# The oldest protocol versions, as a client pinned to an old broker version sends them: message
# sets of magic 1 (0.10: Produce v2, Fetch v2-3) and magic 0 (0.9: Produce v1, Fetch v1),
# converted to RecordBatch v2 on the way in and back on the way out.
for version, has_time in (((0, 10, 1), True), ((0, 9), False)):
    legacy = f"legacy-{run}-{'-'.join(map(str, version))}"
    admin = KafkaAdminClient(bootstrap_servers=broker)
    admin.create_topics([NewTopic(legacy, num_partitions=1, replication_factor=1)])
    admin.close()
    p = KafkaProducer(bootstrap_servers=broker, api_version=version, compression_type="gzip")
    for i in range(20):
        p.send(legacy, key=f"k{i}".encode(), value=f"v{i}".encode())
    p.flush(timeout=30)
    p.close()
    c = KafkaConsumer(legacy, bootstrap_servers=broker, api_version=version,
                      auto_offset_reset="earliest", consumer_timeout_ms=4000)
    got = [(m.offset, m.key, m.value, m.timestamp is not None) for m in c]
    c.close()
    want = [(i, f"k{i}".encode(), f"v{i}".encode(), has_time) for i in range(20)]
    assert got == want, f"{version}: read back {got[:3]}..."
    step(f"legacy message sets at api_version {version}")
print("kafka-python: all steps passed")
