// kafkajs 2.2.4 against kbusd's Kafka listener, through the client-matrix steps: metadata, the
// admin client (topics, configs, partitions, records, groups), keyed produce placed by murmur2,
// headers and timestamps, a consumer group (commit and resume, a rebalance), offsets by time,
// compression, the idempotent producer and a transactional one (refused promptly: kbus has no
// transactions). Each step prints one line, `kafkajs: <step>`; a failing step prints
// `kafkajs: FAILED <step>: <error>` and the others still run (each on its own topics, under its own
// time limit); the script exits non-zero naming the failed steps, or ends with
// `kafkajs: all steps passed`. The first step also writes what it read of TOPIC (group GROUP) to
// RECORDS, one line per record, for the shell script to compare with kbus's own tools.
//   node check.js HOST:PORT TOPIC GROUP RECORDS
const fs = require('fs');
const assert = require('assert/strict');
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } = require('kafkajs');

const [broker, legacyTopic, legacyGroup, recordsFile] = process.argv.slice(2);
const run = `${process.pid}-${Date.now().toString(36)}`;
const kafka = new Kafka({ clientId: 'kbus-check', brokers: [broker], logLevel: logLevel.ERROR });
const admin = kafka.admin();
const created = [];  // topics this run made (the legacy one stays: the shell script reads it)

// --- murmur2 as Kafka's Java client (org.apache.kafka.common.utils.Utils.murmur2) computes it.
function murmur2(data) {
    const m = 0x5bd1e995;
    const len = data.length;
    let h = (0x9747b28c ^ len) | 0;
    const tail = len & ~3;
    for (let i = 0; i < tail; i += 4) {
        let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
        k = Math.imul(k, m);
        k ^= k >>> 24;
        k = Math.imul(k, m);
        h = Math.imul(h, m) ^ k;
    }
    switch (len & 3) {
        case 3: h ^= data[tail + 2] << 16;  // falls through
        case 2: h ^= data[tail + 1] << 8;   // falls through
        case 1: h ^= data[tail]; h = Math.imul(h, m);
    }
    h ^= h >>> 13;
    h = Math.imul(h, m);
    h ^= h >>> 15;
    return h | 0;
}
const placed = (key, n) => (murmur2(Buffer.from(key)) & 0x7fffffff) % n;

// --- steps: each under a time limit, the clients it opened disconnected whatever happened.
const failed = [];
function withTimeout(promise, ms, what) {
    let timer;
    const limit = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
// One line: the error's class, Kafka error type, API, message, and what it wraps.
function explain(e, depth = 0) {
    if (!(e instanceof Error)) return String(e);
    if (e.code === 'ERR_ASSERTION') {
        const what = e.message.split('\n')[0];
        const json = (v) => JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? String(x) : x));
        return e.operator === '=='  // assert.ok: its message says it
            ? `AssertionError: ${what}`
            : `AssertionError: ${what}; got ${json(e.actual)}, expected ${json(e.expected)}`;
    }
    let s = `${e.name}${e.type ? ` ${e.type}` : ''}${e.apiName ? ` (${e.apiName}, api key ${e.apiKey})` : ''}: ${e.message}`;
    if (depth > 2) return s;
    const inner = [
        ...(e.errors || []).map((x) => explain(x, depth + 1)),
        ...(e.partitions || []).map((p) => `partition ${p.partition}: ${explain(p.error, depth + 1)}`),
        ...(e.groups || []).map((g) => `group ${g.groupId}: ${explain(g.error, depth + 1)}`),
    ];
    for (const c of [e.cause, e.originalError]) if (c && c !== e) inner.push(explain(c, depth + 1));
    return inner.length ? `${s} [${inner.join('; ')}]` : s;
}
async function step(name, fn, ms = 20000) {
    const opened = [];
    const track = (client) => { opened.push(client); return client; };
    try {
        const detail = await withTimeout(Promise.resolve().then(() => fn(track)), ms, 'the step');
        console.log(`kafkajs: ${name}${detail ? ` -- ${detail}` : ''}`);
    } catch (e) {
        failed.push(name);
        console.log(`kafkajs: FAILED ${name}: ${explain(e).replace(/\s*\n\s*/g, ' ')}`);
    } finally {
        await Promise.allSettled(opened.map((c) => withTimeout(c.disconnect(), 5000, 'disconnect')));
    }
}

// --- helpers
async function createTopic(topic, numPartitions) {
    const made = await admin.createTopics({ topics: [{ topic, numPartitions }] });
    assert.equal(made, true, `createTopics ${topic}: answered ${made}, not created`);
    created.push(topic);
    return topic;
}
const consumerOptions = { sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 500 };
// A group consumer of topic from the beginning until it has count records; then it disconnects.
async function consume(track, topic, groupId, count, { runOptions = {}, onMessage } = {}) {
    const consumer = track(kafka.consumer({ groupId, ...consumerOptions }));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got = [];
    await new Promise((resolve, reject) => {
        consumer.on(consumer.events.CRASH, (ev) => reject(ev.payload.error));
        consumer.run({
            ...runOptions,
            eachMessage: async ({ partition, message }) => {
                got.push({ partition, ...message });
                if (onMessage) await onMessage(consumer, partition, message);
                if (got.length === count) resolve();
            },
        }).catch(reject);
    });
    await consumer.disconnect();
    return got;
}
const text = (b) => (b === null || b === undefined ? b : b.toString());
const headerText = (h) => (Array.isArray(h) ? h.map(text) : text(h));

async function main() {
    await admin.connect();

    // Today's check, kept: the shell script compares what kafkajs read with `kbus consume`
    // (placement by kbus's own murmur2) and sees group jsg's commit with `kbus group describe`.
    await step(`records for kbus's own tools: ${legacyTopic} (2 partitions, a gzip batch), group ${legacyGroup}`, async (track) => {
        assert.equal(await admin.createTopics({ topics: [{ topic: legacyTopic, numPartitions: 2 }] }), true);
        const producer = track(kafka.producer());
        await producer.connect();
        await producer.send({
            topic: legacyTopic,
            messages: [
                { key: 'foobar', value: 'v1', headers: { trace: 't1' } },
                { key: 'kafka', value: 'v2' },
                { key: 'abc', value: 'v3' },
            ],
        });
        await producer.send({ topic: legacyTopic, compression: CompressionTypes.GZIP,
                              messages: [{ key: 'gz', value: 'gzipped' }] });
        const got = await consume(track, legacyTopic, legacyGroup, 4);  // commits on disconnect
        const lines = got.map(({ partition, offset, key, value, headers }) => {
            const h = Object.entries(headers || {}).map(([k, v]) => `${k}=${v.toString()}`).join(',');
            return `${partition} ${offset} ${key}:${value} ${h}`;
        });
        fs.writeFileSync(recordsFile, lines.sort().join('\n') + '\n');
    });

    const adminTopic = `kjs-admin-${run}`;
    await step('admin: createTopics (3 partitions)', async () => {
        await createTopic(adminTopic, 3);
        const again = await admin.createTopics({ topics: [{ topic: adminTopic, numPartitions: 3 }] });
        assert.equal(again, false, 'creating it again did not answer TOPIC_ALREADY_EXISTS');
        const listed = await admin.listTopics();
        assert.ok(listed.includes(adminTopic), `listTopics: ${listed}`);
    });

    // Metadata (on the topic just made, one of a single partition, and the first step's).
    await step('metadata: fetchTopicMetadata partition counts, describeCluster', async () => {
        const single = await createTopic(`kjs-single-${run}`, 1);
        const cluster = await admin.describeCluster();
        assert.equal(cluster.brokers.length, 1, JSON.stringify(cluster));
        const [me] = cluster.brokers;
        assert.equal(`${me.host}:${me.port}`, broker, `advertised ${me.host}:${me.port}`);
        assert.ok(typeof cluster.clusterId === 'string' && cluster.clusterId.length > 0,
                  `clusterId ${cluster.clusterId}`);
        assert.equal(cluster.controller, me.nodeId, `controller ${cluster.controller}`);
        const { topics } = await admin.fetchTopicMetadata({ topics: [adminTopic, single, legacyTopic] });
        const counts = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
        assert.deepEqual(counts, { [adminTopic]: 3, [single]: 1, [legacyTopic]: 2 });
        for (const t of topics) {
            const ids = t.partitions.map((p) => p.partitionId).sort();
            assert.deepEqual(ids, [...Array(ids.length).keys()], `${t.name} partition ids ${ids}`);
            for (const p of t.partitions) {
                assert.equal(p.partitionErrorCode, 0, `${t.name}/${p.partitionId}`);
                assert.equal(p.leader, me.nodeId, `${t.name}/${p.partitionId} leader`);
                assert.deepEqual(p.replicas, [me.nodeId], `${t.name}/${p.partitionId} replicas`);
                assert.deepEqual(p.isr, [me.nodeId], `${t.name}/${p.partitionId} isr`);
            }
        }
    });

    const DYNAMIC_TOPIC_CONFIG = 1;  // DescribeConfigs v1+'s ConfigSource of a topic's own setting
    const topicConfig = async (topic, configNames) => {
        const { resources } = await admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames }],
        });
        assert.equal(resources.length, 1);
        const [r] = resources;
        assert.equal(r.errorCode, 0, `describeConfigs ${topic}: error ${r.errorCode} ${r.errorMessage}`);
        assert.equal(r.resourceName, topic);
        return Object.fromEntries(r.configEntries.map((e) => [e.configName, e]));
    };

    await step('admin: describeConfigs', async () => {
        const asked = await topicConfig(adminTopic, ['retention.ms', 'cleanup.policy']);
        assert.deepEqual(Object.keys(asked).sort(), ['cleanup.policy', 'retention.ms'],
                         `asked for cleanup.policy and retention.ms, got ${JSON.stringify(asked)}`);
        assert.equal(asked['retention.ms'].configValue, '604800000');
        // Not a topic override (the default, or a broker's setting: server.properties sets it).
        assert.notEqual(asked['retention.ms'].configSource, DYNAMIC_TOPIC_CONFIG, 'retention.ms overridden');
        assert.equal(asked['cleanup.policy'].configValue, 'delete');
        const all = await topicConfig(adminTopic, []);  // kafkajs: [] asks for every setting
        assert.ok(all['segment.bytes'] && all['max.message.bytes'],
                  `every setting: ${Object.keys(all)}`);
    });

    await step('admin: alterConfigs retention.ms, describeConfigs shows the new value', async () => {
        const { resources } = await admin.alterConfigs({
            validateOnly: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name: adminTopic,
                          configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
        });
        assert.deepEqual(resources.map((r) => [r.errorCode, r.resourceType, r.resourceName]),
                         [[0, ConfigResourceTypes.TOPIC, adminTopic]], JSON.stringify(resources));
        const now = await topicConfig(adminTopic, ['retention.ms']);
        assert.equal(now['retention.ms'].configValue, '3600000');
        assert.equal(now['retention.ms'].configSource, DYNAMIC_TOPIC_CONFIG, 'retention.ms not a topic override');
        assert.equal(now['retention.ms'].isDefault, false);
    });

    await step('admin: createPartitions 3 -> 4, metadata shows 4', async (track) => {
        await admin.createPartitions({ topicPartitions: [{ topic: adminTopic, count: 4 }] });
        const { topics } = await admin.fetchTopicMetadata({ topics: [adminTopic] });
        assert.deepEqual(topics[0].partitions.map((p) => p.partitionId).sort(), [0, 1, 2, 3]);
        const offsets = await admin.fetchTopicOffsets(adminTopic);
        assert.deepEqual(offsets.map((o) => o.partition).sort(), [0, 1, 2, 3]);
        const producer = track(kafka.producer());
        await producer.connect();
        const [md] = await producer.send({ topic: adminTopic, messages: [{ partition: 3, value: 'p3' }] });
        assert.deepEqual([md.partition, md.errorCode, md.baseOffset], [3, 0, '0']);
    });

    await step('admin: deleteTopicRecords moves the earliest offset', async (track) => {
        const producer = track(kafka.producer());
        await producer.connect();
        await producer.send({ topic: adminTopic,
                              messages: [0, 1, 2, 3, 4].map((i) => ({ partition: 0, value: `d${i}` })) });
        await producer.send({ topic: adminTopic, messages: [{ partition: 1, value: 'kept' }] });
        const before = await admin.fetchTopicOffsets(adminTopic);
        const p = (list, n) => list.find((o) => o.partition === n);
        assert.deepEqual([p(before, 0).low, p(before, 0).high], ['0', '5'], JSON.stringify(before));
        await admin.deleteTopicRecords({ topic: adminTopic, partitions: [{ partition: 0, offset: '3' }] });
        const after = await admin.fetchTopicOffsets(adminTopic);
        assert.deepEqual([p(after, 0).low, p(after, 0).high], ['3', '5'], JSON.stringify(after));
        assert.deepEqual([p(after, 1).low, p(after, 1).high], ['0', '1'], JSON.stringify(after));
    });

    // Keyed produce (one record a send, so each answer names its partition), then read back.
    const keyedTopic = `kjs-keyed-${run}`;
    const T0 = 1_700_000_000_000;
    const sent = new Map();  // key -> {partition, offset, i}
    await step('keyed produce placed by murmur2 (30 keys over 3 partitions)', async (track) => {
        // Kafka's own test vectors (UtilsTest.testMurmur2), so the placement below is Java's.
        const vectors = { '21': -973932308, foobar: -790332482, 'a-little-bit-long-string': -985981536,
                          'a-little-bit-longer-string': -1486304829,
                          'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8': -58897971, abc: 479470107 };
        for (const [s, want] of Object.entries(vectors)) assert.equal(murmur2(Buffer.from(s)), want, s);
        await createTopic(keyedTopic, 3);
        const producer = track(kafka.producer());
        await producer.connect();
        for (let i = 0; i < 30; i++) {
            const key = `key-${i}`;
            const [md] = await producer.send({
                topic: keyedTopic,
                messages: [{ key, value: `value-${i}`, timestamp: String(T0 + i),
                             headers: { h: String(i), dup: ['a', 'b'] } }],
            });
            assert.equal(md.errorCode, 0);
            assert.equal(md.partition, placed(key, 3), `${key} placed on ${md.partition}`);
            sent.set(key, { partition: md.partition, offset: md.baseOffset, i });
        }
        const used = new Set([...sent.values()].map((s) => s.partition));
        assert.equal(used.size, 3, 'the 30 keys did not use every partition');
    });

    await step('consume with headers and timestamps', async (track) => {
        assert.equal(sent.size, 30, 'nothing was produced');
        const got = await consume(track, keyedTopic, `kjs-read-${run}`, 30);
        for (const m of got) {
            const key = text(m.key);
            const s = sent.get(key);
            assert.ok(s, `unexpected key ${key}`);
            assert.deepEqual([m.partition, m.offset], [s.partition, s.offset], key);
            assert.equal(text(m.value), `value-${s.i}`);
            assert.equal(m.timestamp, String(T0 + s.i), `${key} timestamp`);
            assert.deepEqual(Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, headerText(v)])),
                             { h: String(s.i), dup: ['a', 'b'] }, `${key} headers`);
        }
        assert.equal(new Set(got.map((m) => text(m.key))).size, 30);
    });

    // A consumer group: commit and resume; a rebalance; then the admin client on its groups.
    const groupTopic = `kjs-group-${run}`;
    const resumeGroup = `kjs-resume-${run}`;
    await step('consumer group: commit, stop, a new consumer resumes after the committed offset', async (track) => {
        await createTopic(groupTopic, 1);
        const producer = track(kafka.producer());
        await producer.connect();
        await producer.send({ topic: groupTopic,
                              messages: [0, 1, 2, 3, 4].map((i) => ({ value: `m${i}` })) });
        // Reads all five, commits after the third (offset 3 is the next to read), then stops.
        let committed = false;
        await consume(track, groupTopic, resumeGroup, 5, {
            runOptions: { autoCommit: false },
            onMessage: async (consumer, partition, message) => {
                if (message.offset === '2') {
                    await consumer.commitOffsets([{ topic: groupTopic, partition, offset: '3' }]);
                    committed = true;
                }
            },
        });
        assert.ok(committed);
        const offsets = await admin.fetchOffsets({ groupId: resumeGroup, topics: [groupTopic] });
        assert.deepEqual(offsets[0].partitions.map((p) => [p.partition, p.offset]), [[0, '3']]);
        await producer.send({ topic: groupTopic, messages: [{ value: 'm5' }] });
        const rest = await consume(track, groupTopic, resumeGroup, 3);
        assert.deepEqual(rest.map((m) => [m.offset, text(m.value)]), [['3', 'm3'], ['4', 'm4'], ['5', 'm5']]);
    }, 30000);

    const rebalanceTopic = `kjs-rebalance-${run}`;
    const rebalanceGroup = `kjs-rebalance-${run}`;
    await step("consumer group: a second member's join rebalances (both assigned, disjoint, covering all)", async (track) => {
        await createTopic(rebalanceTopic, 3);
        const latest = [null, null];
        const members = [0, 1].map((n) => {
            const c = track(kafka.consumer({ groupId: rebalanceGroup, ...consumerOptions }));
            c.on(c.events.GROUP_JOIN, (ev) => { latest[n] = ev.payload.memberAssignment[rebalanceTopic] || []; });
            return c;
        });
        const start = async (c) => {
            await c.connect();
            await c.subscribe({ topics: [rebalanceTopic], fromBeginning: true });
            await c.run({ eachMessage: async () => {} });
        };
        const until = async (what, ok) => {
            for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 100))) {
                if (Date.now() - t0 > 15000) throw new Error(`${what}: ${JSON.stringify(latest)}`);
            }
        };
        await start(members[0]);
        await until('the first member never held all 3 partitions', () => latest[0] && latest[0].length === 3);
        await start(members[1]);
        const split = () => {
            if (!latest[0] || !latest[1] || !latest[0].length || !latest[1].length) return false;
            const all = [...latest[0], ...latest[1]].sort();
            return all.length === 3 && all.every((p, i) => p === i);
        };
        await until('no rebalance gave both members disjoint partitions covering 0-2', split);
        return `${JSON.stringify(latest[0])} and ${JSON.stringify(latest[1])}`;
    }, 30000);

    await step('admin: listGroups', async () => {
        const { groups } = await admin.listGroups();
        const ids = groups.map((g) => g.groupId);
        for (const g of [resumeGroup, rebalanceGroup, legacyGroup]) assert.ok(ids.includes(g), `listGroups: ${ids}`);
        assert.equal(groups.find((g) => g.groupId === resumeGroup).protocolType, 'consumer');
    });

    await step('admin: describeGroups', async () => {
        const described = await admin.describeGroups([resumeGroup, `kjs-never-${run}`]);
        const [resume, never] = described.groups;
        // An empty group keeps the protocol type its members had (ListGroups shows it too).
        assert.deepEqual([resume.groupId, resume.errorCode, resume.state, resume.protocolType, resume.members.length],
                         [resumeGroup, 0, 'Empty', 'consumer', 0], `describeGroups: ${JSON.stringify(resume)}`);
        assert.deepEqual([never.errorCode, never.state], [0, 'Dead'], JSON.stringify(never));
    });

    await step('admin: deleteGroups', async () => {
        const results = await admin.deleteGroups([resumeGroup]);
        assert.deepEqual(results.map((r) => [r.groupId, r.errorCode]), [[resumeGroup, 0]]);
        const left = (await admin.listGroups()).groups.map((g) => g.groupId);
        assert.ok(!left.includes(resumeGroup), `deleted group still listed: ${left}`);
        const offsets = await admin.fetchOffsets({ groupId: resumeGroup, topics: [groupTopic] });
        assert.deepEqual(offsets[0].partitions.map((p) => p.offset), ['-1'], 'the deleted group kept its commits');
    });

    // By time: partition 0 holds T1, T1+10, ... T1+40 (offsets 0-4), partition 1 T1+100, T1+110.
    await step('list offsets by time: fetchTopicOffsetsByTimestamp', async (track) => {
        const T1 = 1_750_000_000_000;
        const topic = await createTopic(`kjs-time-${run}`, 2);
        const producer = track(kafka.producer());
        await producer.connect();
        await producer.send({ topic, messages: [
            ...[0, 10, 20, 30, 40].map((d) => ({ partition: 0, value: `t${d}`, timestamp: String(T1 + d) })),
            ...[100, 110].map((d) => ({ partition: 1, value: `t${d}`, timestamp: String(T1 + d) })),
        ] });
        const at = async (ts) => Object.fromEntries(
            (await admin.fetchTopicOffsetsByTimestamp(topic, ts)).map((o) => [o.partition, o.offset]));
        assert.deepEqual(await at(T1 + 15), { 0: '2', 1: '0' }, 'at T1+15');
        assert.deepEqual(await at(T1 + 20), { 0: '2', 1: '0' }, 'at T1+20');
        assert.deepEqual(await at(T1 + 105), { 0: '5', 1: '1' }, 'at T1+105 (past partition 0: its end)');
        assert.deepEqual(await at(T1 - 1), { 0: '0', 1: '0' }, 'before everything');
        assert.deepEqual(await at(T1 + 1000), { 0: '5', 1: '2' }, 'after everything: the ends');
    });

    // Compression: gzip is the only codec kafkajs carries; the others it refuses itself.
    await step('compressed batches: gzip (snappy, lz4 and zstd need codec plugins kafkajs does not ship)', async (track) => {
        const topic = await createTopic(`kjs-gzip-${run}`, 1);
        const producer = track(kafka.producer());
        await producer.connect();
        const values = [...Array(10).keys()].map((i) => `gzip-${i}-${'x'.repeat(100)}`);
        const [md] = await producer.send({ topic, compression: CompressionTypes.GZIP,
                                           messages: values.map((value) => ({ key: 'c', value })) });
        assert.deepEqual([md.errorCode, md.baseOffset], [0, '0']);
        await producer.send({ topic, compression: CompressionTypes.GZIP, messages: [{ value: 'second batch' }] });
        for (const codec of ['Snappy', 'LZ4', 'ZSTD']) {
            await assert.rejects(producer.send({ topic, compression: CompressionTypes[codec], messages: [{ value: 'x' }] }),
                                 (e) => e.name === 'KafkaJSNotImplemented', `${codec} without a plugin`);
        }
        const got = await consume(track, topic, `kjs-gzip-${run}`, 11);
        assert.deepEqual(got.map((m) => [m.offset, text(m.value)]),
                         [...values, 'second batch'].map((v, i) => [String(i), v]));
    });

    // The idempotent producer: a producer id from InitProducerId, a sequence on every batch; what
    // it wrote read back once, in order. (Stored batches do not carry the producer's id yet: the
    // ring's records hold no producer stamp; the exactly-once work adds it.)
    await step('idempotent producer (maxInFlightRequests 1): send and read back', async (track) => {
        const topic = await createTopic(`kjs-idem-${run}`, 1);
        const producer = track(kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
        await producer.connect();  // InitProducerId
        const offsets = [];
        for (const n of [2, 3, 1]) {
            const base = offsets.length;
            const [md] = await producer.send({ topic, acks: -1,
                messages: [...Array(n).keys()].map((i) => ({ value: `idem-${base + i}` })) });
            assert.deepEqual([md.errorCode, md.baseOffset], [0, String(base)]);
            for (let i = 0; i < n; i++) offsets.push(base + i);
        }
        const got = await consume(track, topic, `kjs-idem-${run}`, 6);
        assert.deepEqual(got.map((m) => [m.offset, text(m.value)]), offsets.map((o) => [String(o), `idem-${o}`]));
    });

    // Transactions: kafkajs's transactional producer (InitProducerId with its id,
    // AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn) and its consumer at
    // read_committed, its default: the aborted transaction is never read, the committed one is,
    // and the group's offset comes with it.
    await step('transactional producer: an aborted transaction never read, a committed one with its offsets', async (track) => {
        const topic = await createTopic(`kjs-tx-${run}`, 1);
        const producer = track(kafka.producer({ transactionalId: `kjs-tx-${run}`, idempotent: true,
                                                maxInFlightRequests: 1 }));
        await producer.connect();
        const aborted = await producer.transaction();
        await aborted.send({ topic, messages: [{ value: 'aborted-0' }, { value: 'aborted-1' }] });
        await aborted.abort();  // the ABORT marker at offset 2
        const committed = await producer.transaction();
        await committed.send({ topic, messages: [{ value: 'committed-0' }, { value: 'committed-1' }] });
        const copier = `kjs-tx-copier-${run}`;
        await committed.sendOffsets({ consumerGroupId: copier,
                                      topics: [{ topic, partitions: [{ partition: 0, offset: '2' }] }] });
        await committed.commit();
        const got = await consume(track, topic, `kjs-tx-read-${run}`, 2);
        assert.deepEqual(got.map((m) => [m.offset, text(m.value)]),
                         [['3', 'committed-0'], ['4', 'committed-1']]);
        const offsets = await admin.fetchOffsets({ groupId: copier, topics: [topic] });
        assert.equal(offsets[0].partitions[0].offset, '2', 'the offset committed with the transaction');
    });

    await step('admin: deleteTopics', async () => {
        await admin.deleteTopics({ topics: created });
        const left = await admin.listTopics();
        const still = created.filter((t) => left.includes(t));
        assert.deepEqual(still, [], 'deleted topics still listed');
        assert.ok(left.includes(legacyTopic), `${legacyTopic} went too`);
    });

    await withTimeout(admin.disconnect(), 5000, 'admin disconnect').catch(() => {});
    if (failed.length) {
        console.log(`kafkajs: ${failed.length} step(s) failed: ${failed.join('; ')}`);
        process.exit(1);
    }
    console.log('kafkajs: all steps passed');
    process.exit(0);
}

main().catch((e) => {
    console.log(`kafkajs: FAILED to start: ${explain(e)}`);
    process.exit(1);
});
