'use strict';

// Drives ali-ons' retry path for ../delay_maxreconsume_test.go: a push
// consumer in group GROUP with maxReconsumeTimes MAX subscribes to TOPIC
// and fails every message (the handler throws), so ali-ons sends each back
// with CONSUMER_SEND_MSG_BACK carrying MAX. Every delivery is one JSON
// line on stdout: {"recv":body,"reconsumeTimes":n,"topic":..}. It runs
// until the Go test kills it.

const { Consumer } = require('ali-ons');

const nameSrv = process.env.NAMESRV;
const topic = process.env.TOPIC;
const group = process.env.GROUP;
const maxReconsumeTimes = Number(process.env.MAX);
const httpclient = {};
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

async function main() {
  const consumer = new Consumer({
    consumerGroup: group, nameSrv, httpclient, logger: quiet, maxReconsumeTimes,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
  });
  consumer.subscribe(topic, '*', async msg => {
    process.stdout.write(JSON.stringify({ recv: msg.body.toString(), reconsumeTimes: msg.reconsumeTimes, topic: msg.topic }) + '\n');
    throw new Error('fail on purpose');
  });
  consumer.on('error', () => {}); // the handler's own errors
  await consumer.ready();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
}

main().catch(err => { console.error(err); process.exit(1); });
