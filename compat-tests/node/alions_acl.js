'use strict';

// Drives ali-ons with an AccessKey (accessKeyId/accessKeySecret: it signs
// every request, with OnsChannel) against twinmq with aclEnable, for
// ../acl_alions_test.go. A producer with the right secret sends COUNT
// messages to TOPIC and tries DENIED; a producer with a wrong secret tries
// TOPIC; a push consumer in GROUP receives TOPIC's messages. One JSON line
// per event on stdout:
//   {"sent":i} {"denied":topic,"error":..} {"allowed":topic} {"recv":i}
// Exit 0 when all COUNT messages arrived, 2 on timeout, 1 on error.

const { Producer, Consumer, Message } = require('ali-ons');

const nameSrv = process.env.NAMESRV;
const topic = process.env.TOPIC;
const denied = process.env.DENIED;
const group = process.env.GROUP;
const accessKeyId = process.env.AK;
const accessKeySecret = process.env.SK;
const count = Number(process.env.COUNT || 5);
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000);
const httpclient = {};
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

async function trySend(producer, t, label) {
  try {
    const r = await producer.send(new Message(t, 'TagA', 'acl-' + label));
    emit({ allowed: t, label, status: r.sendStatus });
  } catch (err) {
    emit({ denied: t, label, error: String(err.message || err) });
  }
}

async function main() {
  const opts = { nameSrv, httpclient, logger: quiet, accessKeyId, accessKeySecret, retryTimesWhenSendFailed: 0 };
  const producer = new Producer(Object.assign({ producerGroup: 'ons_acl_pg' }, opts));
  await producer.ready();
  for (let i = 0; i < count; i++) {
    const r = await producer.send(new Message(topic, 'TagA', 'acl-body-' + i));
    if (r.sendStatus !== 'SEND_OK') throw new Error('send ' + i + ': ' + JSON.stringify(r));
    emit({ sent: i });
  }
  await trySend(producer, denied, 'denied-topic');
  await producer.close();

  const wrong = new Producer(Object.assign({}, opts, { producerGroup: 'ons_acl_wrong', accessKeySecret: 'not-the-secret',
    instanceName: 'wrong' }));
  await wrong.ready();
  await trySend(wrong, topic, 'wrong-secret');
  // Its UNREGISTER_CLIENT is refused too (signature check failed).
  await wrong.close().catch(err => emit({ denied: 'unregister', label: 'wrong-secret-close', error: String(err.message || err) }));

  const seen = new Set();
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  const consumer = new Consumer(Object.assign({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }, opts));
  consumer.subscribe(topic, '*', async msg => {
    const i = Number(msg.body.toString().replace('acl-body-', ''));
    emit({ recv: i });
    seen.add(i);
    if (seen.size >= count) done();
  });
  consumer.on('error', err => console.error('consumer error:', err));
  await consumer.ready();
  const timer = setTimeout(() => { console.error(`timeout: ${seen.size}/${count}`); process.exit(2); }, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.close();
  process.exit(0);
}

main().catch(err => { console.error(err); process.exit(1); });
