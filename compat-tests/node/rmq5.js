'use strict';

// Drives rocketmq-client-nodejs (RocketMQ 5, gRPC) against twinmq's gRPC
// listener for ../grpc_node_test.go. ROLE picks what it does, with
// ENDPOINTS (host:port of the gRPC listener) and TOPIC:
//
//   produce   COUNT: message i with body body-<i>, tag A|B, key k-<i> and
//             property seq=<i>; with GROUP_KEY set, all in message group
//             GROUP_KEY (FIFO); with DELAY_MS set, one more message
//             "delayed" delivered DELAY_MS after it is sent
//   simple    GROUP WANT EXPR INVISIBLE_MS: a SimpleConsumer receives and
//             acknowledges until WANT messages were acknowledged; with
//             CHANGE=1 the first message received has its invisible time
//             changed to 1 s and is not acknowledged (it must come back
//             with the next delivery attempt)
//   push      GROUP WANT EXPR: a PushConsumer until WANT messages were
//             consumed (FAIL_FIRST=1: the first delivery of each message
//             answers FAILURE, so it comes back)
//
// Every event is one JSON line on stdout:
//   {"sent":i,"id":..}  {"sentDelayed":ms,"id":..}
//   {"id":..,"body":..,"tag":..,"keys":[..],"props":{..},"attempt":n,
//    "group":..,"at":ms,"ack":bool}
// Exit 0 when done, 2 on timeout, 1 on error. Logs go to stderr.

const env = process.env;
const timeoutMs = Number(env.TIMEOUT_MS || 60000);
const {
  Producer, SimpleConsumer, PushConsumer, FilterExpression, ConsumeResult,
} = require('rocketmq-client-nodejs');

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

const verbose = env.VERBOSE === '1';
const logger = {
  info(...a) { if (verbose) console.error('info', ...a); },
  debug(...a) { if (verbose) console.error('debug', ...a); },
  warn(...a) { console.error('warn', ...a); },
  error(...a) { console.error('error', ...a); },
};

const base = { endpoints: env.ENDPOINTS, namespace: '', logger, requestTimeout: 10000 };

function view(m, extra) {
  return Object.assign({
    id: m.messageId, body: m.body.toString(), tag: m.tag || '', keys: m.keys,
    props: Object.fromEntries(m.properties || new Map()), attempt: m.deliveryAttempt,
    group: m.messageGroup || '', at: Date.now(),
  }, extra);
}

async function produce() {
  const p = new Producer(Object.assign({ topics: [env.TOPIC] }, base));
  await p.startup();
  const count = Number(env.COUNT);
  for (let i = 0; i < count; i++) {
    const msg = {
      topic: env.TOPIC, body: Buffer.from(`body-${i}`), tag: i % 2 === 0 ? 'A' : 'B',
      keys: [`k-${i}`], properties: new Map([['seq', String(i)]]),
    };
    if (env.GROUP_KEY) msg.messageGroup = env.GROUP_KEY;
    const r = await p.send(msg);
    emit({ sent: i, id: r.messageId });
  }
  if (env.DELAY_MS) {
    const at = Date.now() + Number(env.DELAY_MS);
    const r = await p.send({ topic: env.TOPIC, body: Buffer.from('delayed'), tag: 'D', keys: ['k-delayed'],
      deliveryTimestamp: new Date(at) });
    emit({ sentDelayed: at, id: r.messageId });
  }
  await p.shutdown();
}

async function simple() {
  const want = Number(env.WANT);
  const c = new SimpleConsumer(Object.assign({
    consumerGroup: env.GROUP, awaitDuration: 2000,
    subscriptions: new Map([[env.TOPIC, new FilterExpression(env.EXPR || '*')]]),
  }, base));
  await c.startup();
  let acked = 0;
  let changed = env.CHANGE !== '1';
  while (acked < want) {
    const ms = await c.receive(16, Number(env.INVISIBLE_MS || 10000));
    for (const m of ms) {
      if (!changed) {
        changed = true;
        await c.changeInvisibleDuration(m, 1000);
        emit(view(m, { ack: false }));
        continue;
      }
      await c.ack(m);
      acked++;
      emit(view(m, { ack: true }));
    }
  }
  await c.shutdown();
}

async function push() {
  const want = Number(env.WANT);
  const failed = new Set();
  let consumed = 0;
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  const listen = m => {
    if (env.FAIL_FIRST === '1' && !failed.has(m.messageId)) {
      failed.add(m.messageId);
      emit(view(m, { ack: false }));
      return ConsumeResult.FAILURE;
    }
    emit(view(m, { ack: true }));
    if (++consumed >= want) done();
    return ConsumeResult.SUCCESS;
  };
  const c = new PushConsumer(Object.assign({
    consumerGroup: env.GROUP,
    subscriptions: new Map([[env.TOPIC, new FilterExpression(env.EXPR || '*')]]),
    messageListener: {
      consume(m) {
        try {
          return listen(m);
        } catch (e) {
          console.error('listener failed', e); // the client would only count a FAILURE
          throw e;
        }
      },
    },
  }, base));
  await c.startup();
  await finished;
  // Give the client time to acknowledge the last message before it goes.
  // Its shutdown waits for its long polls in flight (up to the 20 s the
  // broker allows): give it 3 s, then leave.
  await new Promise(r => setTimeout(r, 1000));
  await Promise.race([c.shutdown(), new Promise(r => setTimeout(r, 3000))]);
}

const roles = { produce, simple, push };

(async () => {
  const fn = roles[env.ROLE];
  if (!fn) throw new Error(`unknown ROLE ${env.ROLE}`);
  const timer = setTimeout(() => { console.error('timeout'); process.exit(2); }, timeoutMs);
  await fn();
  clearTimeout(timer);
  process.exit(0);
})().catch(err => { console.error(err); process.exit(1); });
