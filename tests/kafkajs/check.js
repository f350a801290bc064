// kafkajs 2.2.4 against kbusd's Kafka listener: admin topic creation, a producer (one batch
// gzip-compressed, as kafkajs compresses whatever it is told to), and a group consumer whose
// commits kbus's own tools then show. Prints what it read, one line per record.
//   node check.js HOST:PORT TOPIC GROUP
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
const [broker, topic, groupId] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'kbus-check', brokers: [broker], logLevel: logLevel.ERROR });

async function main() {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
        topic,
        messages: [
            { key: 'foobar', value: 'v1', headers: { trace: 't1' } },
            { key: 'kafka', value: 'v2' },
            { key: 'abc', value: 'v3' },
        ],
    });
    await producer.send({ topic, compression: CompressionTypes.GZIP,
                          messages: [{ key: 'gz', value: 'gzipped' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId, sessionTimeout: 6000 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const lines = [];
    await new Promise((resolve) => {
        consumer.run({
            eachMessage: async ({ partition, message }) => {
                const headers = Object.entries(message.headers || {})
                                    .map(([k, v]) => `${k}=${v.toString()}`).join(',');
                lines.push(`${partition} ${message.offset} ${message.key}:${message.value} ${headers}`);
                if (lines.length === 4) resolve();
            },
        });
    });
    await consumer.disconnect();  // commits what it consumed
    console.log(lines.sort().join('\n'));
}

main().catch((e) => {
    console.error('kafkajs check failed:', e);
    process.exit(1);
});
