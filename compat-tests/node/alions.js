'use strict';

// Drives ali-ons (a Node.js RocketMQ remoting client: SEND_MESSAGE_V2 with
// numeric extFields, UNREGISTER_CLIENT) against twinmq for
// ../rocketmq_alions_test.go. A producer sends COUNT messages alternating
// tags TagA/TagB with key k<i> and property p=i; a push consumer subscribed
// to TagA receives its half. Every event is one JSON line on stdout:
//   {"sent":i,"msgId":..,"offsetMsgId":..,"queueId":..,"queueOffset":..}
//   {"recv":i,"msgId":..,"tags":..,"keys":..,"p":..,"topic":..,"queueId":..,
//    "queueOffset":..,"bornTimestamp":..,"storeTimestamp":..}
// Exit 0 when all TagA messages arrived, 2 on timeout, 1 on error.

const { Producer, Consumer, Message } = require('ali-ons');

const nameSrv = process.env.NAMESRV;
const topic = process.env.TOPIC;
const count = Number(process.env.COUNT || 10);
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000);
// ali-ons asserts an httpclient but uses it only to ask an address server
// (onsAddr) for the name servers; with nameSrv given it is never called.
const httpclient = {};
const quiet = { info() {}, warn() {}, error: (...a) => console.error(...a), debug() {} };

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

async function main() {
  const producer = new Producer({ producerGroup: 'ons_pg_' + topic, nameSrv, httpclient, logger: quiet });
  await producer.ready();
  for (let i = 0; i < count; i++) {
    const msg = new Message(topic, i % 2 === 0 ? 'TagA' : 'TagB', 'ons-body-' + i);
    msg.keys = [ 'k' + i ];
    msg.properties.p = String(i);
    const r = await producer.send(msg);
    if (r.sendStatus !== 'SEND_OK') throw new Error('send ' + i + ': ' + JSON.stringify(r));
    emit({ sent: i, msgId: r.msgId, queueId: Number(r.messageQueue.queueId), queueOffset: Number(r.queueOffset) });
  }
  await producer.close();

  const want = Math.ceil(count / 2);
  const seen = new Set();
  const consumer = new Consumer({
    consumerGroup: 'ons_cg_' + topic, nameSrv, httpclient, logger: quiet,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
  });
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  consumer.subscribe(topic, 'TagA', async msg => {
    const i = Number(msg.body.toString().replace('ons-body-', ''));
    emit({
      recv: i, msgId: msg.msgId, body: msg.body.toString(), tags: msg.tags, keys: msg.keys, p: msg.properties.p,
      topic: msg.topic, queueId: Number(msg.queueId), queueOffset: Number(msg.queueOffset),
      bornTimestamp: Number(msg.bornTimestamp), storeTimestamp: Number(msg.storeTimestamp),
    });
    seen.add(i);
    if (seen.size >= want) done();
  });
  consumer.on('error', err => console.error('consumer error:', err));
  await consumer.ready();
  const timer = setTimeout(() => { console.error(`timeout: ${seen.size}/${want}`); process.exit(2); }, timeoutMs);
  await finished;
  clearTimeout(timer);
  // Let the last handler return and its offset leave the process queue
  // before close persists the offsets.
  await new Promise(resolve => setTimeout(resolve, 1000));
  await consumer.close(); // persists offsets and sends UNREGISTER_CLIENT
  process.exit(0);
}

main().catch(err => { console.error(err); process.exit(1); });
