'use strict';

// Drives the Node.js clients of the cross-protocol matrix
// (../xproto_node_test.go): kafkajs as a Kafka producer and consumer, and
// ali-ons as a RocketMQ producer and consumer, on one twinmq topic. ROLE
// picks one of them:
//
//   kafkajs-produce  BROKERS TOPIC COUNT PRODUCER BASE_TS: message i with
//                    key key-<i>, headers h=hv-<i> and TAGS=TagA|TagB,
//                    timestamp BASE_TS+i, partition i%2, gzip batches
//   kafkajs-consume  BROKERS TOPIC GROUP WANT: a group from the earliest
//                    offset until WANT records arrived
//   alions-produce   NAMESRV TOPIC COUNT PRODUCER: message i with tag
//                    TagA|TagB, key key-<i>, property h=hv-<i> (bodies
//                    over 4 KiB are zlib-compressed by ali-ons)
//   alions-consume   NAMESRV TOPIC GROUP WANT EXPR: a push consumer
//                    subscribed to EXPR until WANT messages arrived
//
// The value of message i is <PRODUCER>-value-<i>, the last one followed by
// 5 KiB of 'x' (xValue in ../xproto_helpers_test.go). Every event is one
// JSON line on stdout:
//   {"sent":i}
//   {"value":..,"key":..,"tags":..,"props":{..},"ts":..,"storeTs":..,
//    "partition":..,"offset":..,"msgId":..}
// Exit 0 when done, 2 on timeout, 1 on error. Logs go to stderr.

const env = process.env;
const topic = env.TOPIC;
const count = Number(env.COUNT || 6);
const want = Number(env.WANT || count);
const timeoutMs = Number(env.TIMEOUT_MS || 60000);

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

function value(i) {
  let v = `${env.PRODUCER}-value-${i}`;
  if (i === count - 1) v += 'x'.repeat(5 << 10);
  return v;
}

const tag = i => (i % 2 === 0 ? 'TagA' : 'TagB');

// deadline exits with 2 if fn has not finished within TIMEOUT_MS.
async function deadline(fn) {
  const timer = setTimeout(() => { console.error('timeout'); process.exit(2); }, timeoutMs);
  await fn();
  clearTimeout(timer);
}

function kafka() {
  const { Kafka, logLevel } = require('kafkajs');
  const logCreator = () => ({ namespace, level, log }) => {
    if (level <= logLevel.WARN) console.error(`kafkajs ${namespace}: ${log.message}`);
  };
  return new Kafka({ clientId: 'xproto-node', brokers: env.BROKERS.split(','), logLevel: logLevel.WARN, logCreator });
}

async function kafkajsProduce() {
  const { CompressionTypes, Partitioners } = require('kafkajs');
  const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const base = Number(env.BASE_TS);
  const messages = [];
  for (let i = 0; i < count; i++) {
    messages.push({
      partition: i % 2, key: `key-${i}`, value: value(i), timestamp: String(base + i),
      headers: { h: `hv-${i}`, TAGS: tag(i) },
    });
  }
  await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
  for (let i = 0; i < count; i++) emit({ sent: i });
  await producer.disconnect();
}

async function kafkajsConsume() {
  const consumer = kafka().consumer({ groupId: env.GROUP, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [ topic ], fromBeginning: true });
  let n = 0;
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const props = {};
      for (const [ k, v ] of Object.entries(message.headers || {})) {
        props[k] = Array.isArray(v) ? v.map(String) : String(v);
      }
      emit({
        value: message.value.toString(), key: message.key ? message.key.toString() : '', tags: props.TAGS || '',
        props, ts: Number(message.timestamp), partition, offset: Number(message.offset),
      });
      if (++n >= want) done();
    },
  });
  await finished;
  await consumer.disconnect();
}

// ali-ons asserts an httpclient but uses it only to ask an address server
// for the name servers; with nameSrv given it is never called.
const ons = { nameSrv: env.NAMESRV, httpclient: {}, logger: { info() {}, warn() {}, error: (...a) => console.error(...a), debug() {} } };

async function alionsProduce() {
  const { Producer, Message } = require('ali-ons');
  const producer = new Producer({ ...ons, producerGroup: 'ons_xpg_' + topic });
  await producer.ready();
  for (let i = 0; i < count; i++) {
    const msg = new Message(topic, tag(i), value(i));
    msg.keys = [ `key-${i}` ];
    msg.properties.h = `hv-${i}`;
    const r = await producer.send(msg);
    if (r.sendStatus !== 'SEND_OK') throw new Error('send ' + i + ': ' + JSON.stringify(r));
    emit({ sent: i });
  }
  await producer.close();
}

async function alionsConsume() {
  const { Consumer } = require('ali-ons');
  const consumer = new Consumer({ ...ons, consumerGroup: env.GROUP, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  let n = 0;
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  consumer.subscribe(topic, env.EXPR || '*', async msg => {
    emit({
      value: msg.body.toString(), key: msg.keys || '', tags: msg.tags || '', props: msg.properties,
      ts: Number(msg.bornTimestamp), storeTs: Number(msg.storeTimestamp), partition: Number(msg.queueId),
      offset: Number(msg.queueOffset), msgId: msg.msgId,
    });
    if (++n >= want) done();
  });
  consumer.on('error', err => console.error('consumer error:', err));
  await consumer.ready();
  await finished;
  await consumer.close();
}

const roles = {
  'kafkajs-produce': kafkajsProduce, 'kafkajs-consume': kafkajsConsume,
  'alions-produce': alionsProduce, 'alions-consume': alionsConsume,
};

const role = roles[env.ROLE];
if (!role) {
  console.error('unknown ROLE ' + env.ROLE);
  process.exit(1);
}
deadline(role).then(() => process.exit(0), err => { console.error(err); process.exit(1); });
