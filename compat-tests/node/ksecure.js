// kafkajs over SASL_SSL (kafka_security_test.go): sends one message with
// each SCRAM mechanism and PLAIN, reads the partition's offsets with the
// admin client, and tries a wrong password. Prints one JSON object.
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const broker = process.env.BROKER;
const ca = [fs.readFileSync(process.env.CA, 'utf8')];
const topic = process.env.TOPIC;

function client(mechanism, password) {
  return new Kafka({
    clientId: 'ksecure', brokers: [broker], logLevel: logLevel.NOTHING,
    ssl: { ca }, sasl: { mechanism, username: process.env.USER_NAME, password },
    retry: { retries: 0 }, connectionTimeout: 5000, authenticationTimeout: 5000,
  });
}

(async () => {
  const out = { sent: [], offsets: null, wrong: null };
  for (const mech of ['scram-sha-256', 'scram-sha-512', 'plain']) {
    const p = client(mech, process.env.PASSWORD).producer();
    await p.connect();
    await p.send({ topic, messages: [{ value: 'kafkajs ' + mech }] });
    await p.disconnect();
    out.sent.push(mech);
  }
  const admin = client('scram-sha-256', process.env.PASSWORD).admin();
  await admin.connect();
  out.offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const bad = client('scram-sha-256', 'wrong').producer();
  try {
    await bad.connect();
    out.wrong = 'connected';
  } catch (e) {
    out.wrong = e.name + ': ' + e.message;
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
