// twinmq console: plain ES module, no framework. Every value from the
// broker is put in the page as text (h() below), never as HTML.

const main = document.getElementById('main');
const flash = document.getElementById('flash');
let timer = null; // the metrics page's poll

// h builds an element: h('a', {href: '#/'}, 'text', child, ...).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: {} };
  if (init.method !== 'GET') init.headers['X-Twinmq-Console'] = '1';
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  const resp = await fetch('/api' + path, init);
  const data = await resp.json().catch(() => ({ error: resp.statusText }));
  if (!resp.ok) throw new Error((data.code ? data.code + ': ' : '') + (data.error || resp.status));
  return data;
}

function say(msg, isError) {
  flash.hidden = false;
  flash.textContent = msg;
  flash.className = isError ? 'error' : '';
}

const fmt = new Intl.NumberFormat('en-US');
const num = (n) => (n === null || n === undefined ? '-' : fmt.format(n));
function bytes(n) {
  if (n === null || n === undefined || n < 0) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}
const time = (ms) => (ms > 0 ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '-');
function dur(ms) {
  const s = Math.floor(ms / 1000);
  return s >= 86400 ? Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h'
    : s >= 3600 ? Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm' : Math.floor(s / 60) + 'm ' + (s % 60) + 's';
}
const enc = encodeURIComponent;

function table(cols, rows, attrs) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.num ? 'num' : null }, c.title)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, 'none'))
      : rows.map((r) => h('tr', {}, cols.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell(r)))))));
}
const card = (k, v) => h('div', { class: 'card' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v));
const tags = (list) => (list || []).map((p) => h('span', { class: 'tag ' + p }, p));

// Pages: each returns the nodes to show; data-ready tells tests (and
// screenshots) the page has its data.

async function clusterPage() {
  const o = await api('/overview');
  const b = o.broker;
  const listeners = Object.entries(b.listeners || {}).sort();
  return [
    h('h1', {}, 'Cluster'),
    h('div', { class: 'cards' },
      card('Broker', (b.brokerName || '-') + ' (id ' + b.brokerId + ')'), card('Role', b.role || '-'),
      card('Cluster', b.clusterName || '-'), card('Kafka node id', b.nodeId), card('Version', b.version || '-'),
      card('Uptime', o.uptimeMs ? dur(o.uptimeMs) : '-'), card('Topics', num(o.topics)), card('Groups with offsets', num(o.groups))),
    h('h2', {}, 'Store'),
    h('div', { class: 'cards' },
      card('Written', bytes(o.store.writtenOffset)), card('Flushed', bytes(o.store.flushedOffset)),
      card('Records', num(o.store.records)), card('Writable', o.store.writable ? 'yes' : 'NO: ' + (o.store.error || '')),
      card('Disk free', bytes(o.store.diskFreeBytes)), card('Disk used', bytes(o.store.diskUsedBytes))),
    h('h2', {}, 'Listeners'),
    table([{ title: 'listener', cell: (r) => r[0] }, { title: 'address', cell: (r) => r[1] }], listeners, { id: 'listeners' }),
    h('h2', {}, 'Broker groups'),
    table([
      { title: 'group', cell: (g) => [g.name, g.self ? h('span', { class: 'tag' }, 'this broker') : null] },
      { title: 'master (Kafka)', cell: (g) => g.master || 'no live master' },
      { title: 'node', num: true, cell: (g) => g.nodeId },
      { title: 'remoting', cell: (g) => g.remoting || '-' },
      { title: 'epoch', num: true, cell: (g) => g.epoch },
      { title: 'replicas', cell: (g) => (g.replicas || []).join(', ') },
      { title: 'in sync', cell: (g) => (g.isr || []).join(', ') },
    ], o.brokerGroups, { id: 'broker-groups' }),
    h('h2', {}, 'Replication'),
    o.replication.length === 0 ? h('p', { class: 'muted' }, 'No broker group: this broker has no slaves or master (replication lag shows here once it has).')
      : table([{ title: 'metric', cell: (r) => r.name }, { title: 'labels', cell: (r) => Object.entries(r.labels || {}).map(([k, v]) => k + '=' + v).join(' ') },
        { title: 'value', num: true, cell: (r) => num(r.value) }], o.replication),
    h('p', { class: 'muted' }, 'Cluster id ' + (b.clusterId || '-') + (o.readOnly ? ' · read-only console' : '')),
  ];
}

async function topicsPage(params) {
  const q = params.get('q') || '';
  const list = await api('/topics' + (q ? '?q=' + enc(q) : ''));
  const showAll = params.get('all') === '1';
  const rows = list.filter((t) => showAll || t.kind === 'topic');
  const create = h('form', { class: 'inline', id: 'create-topic', onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      await api('/topics', { method: 'POST', body: { name: f.get('name'), partitions: Number(f.get('partitions')) || 0 } });
      say('created topic ' + f.get('name'));
      route(true);
    } catch (err) { say(err.message, true); }
  } },
  h('label', {}, 'name', h('input', { name: 'name', required: true })),
  h('label', {}, 'partitions', h('input', { name: 'partitions', type: 'number', min: 1, value: 1 })),
  h('button', { type: 'submit' }, 'Create topic'));
  return [
    h('h1', {}, 'Topics'),
    create,
    h('p', {}, h('a', { href: showAll ? '#/topics' : '#/topics?all=1' }, showAll ? 'hide retry, DLQ and system topics' : 'show retry, DLQ and system topics'),
      ' · ', rows.length + ' shown of ' + list.length),
    table([
      { title: 'topic', cell: (t) => h('a', { href: '#/topics/' + enc(t.name) }, t.name) },
      { title: 'kind', cell: (t) => t.kind },
      { title: 'partitions', num: true, cell: (t) => t.queues },
      { title: 'messages', num: true, cell: (t) => num(t.messages) },
      { title: 'end offsets', num: true, cell: (t) => num(t.endOffsets) },
      { title: '', cell: (t) => h('a', { href: '#/messages?topic=' + enc(t.name) }, 'browse') },
    ], rows, { id: 'topics' }),
  ];
}

async function topicPage(params, name) {
  const t = await api('/topics/' + enc(name));
  const alter = h('form', { class: 'inline', id: 'alter-topic', onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = {};
    if (f.get('config')) body.configs = { [f.get('config')]: f.get('value') === '' ? null : f.get('value') };
    if (Number(f.get('partitions')) > t.queues) body.partitions = Number(f.get('partitions'));
    try { await api('/topics/' + enc(name), { method: 'PATCH', body }); say('altered ' + name); route(true); } catch (err) { say(err.message, true); }
  } },
  h('label', {}, 'config', h('input', { name: 'config', placeholder: 'retention.ms' })),
  h('label', {}, 'value (empty: default)', h('input', { name: 'value' })),
  h('label', {}, 'partitions', h('input', { name: 'partitions', type: 'number', min: t.queues, value: t.queues })),
  h('button', { type: 'submit' }, 'Alter'));
  const del = h('button', { class: 'danger', id: 'delete-topic', onclick: async () => {
    if (!confirm('Delete topic ' + name + ' and its messages?')) return;
    try { await api('/topics/' + enc(name), { method: 'DELETE' }); say('deleted ' + name); location.hash = '#/topics'; } catch (err) { say(err.message, true); }
  } }, 'Delete topic');
  return [
    h('h1', {}, 'Topic ', h('span', { id: 'topic-name' }, t.name)),
    h('div', { class: 'cards' }, card('Partitions', t.queues), card('Messages', num(t.messages)), card('Kind', t.kind),
      card('Created', time(t.createdMs)), card('Perm', t.perm)),
    h('p', {}, h('a', { href: '#/messages?topic=' + enc(t.name) }, 'Browse messages')),
    h('h2', {}, 'Partitions'),
    table([
      { title: 'partition', num: true, cell: (p) => h('a', { href: '#/messages?topic=' + enc(t.name) + '&partition=' + p.partition }, p.partition) },
      { title: 'start', num: true, cell: (p) => num(p.start) }, { title: 'end', num: true, cell: (p) => num(p.end) },
      { title: 'messages', num: true, cell: (p) => num(p.end - p.start) }, { title: 'size', num: true, cell: (p) => bytes(p.bytes) },
    ], t.partitions, { id: 'partitions' }),
    h('h2', {}, 'Consumer groups'),
    h('p', {}, t.groups.length ? t.groups.map((g, i) => [i ? ', ' : '', h('a', { href: '#/groups/' + enc(g) }, g)]) : h('span', { class: 'muted' }, 'none')),
    h('h2', {}, 'Configs'), alter,
    table([{ title: 'name', cell: (c) => c.name }, { title: 'value', cell: (c) => c.value }, { title: 'source', cell: (c) => c.source }], t.configs, { id: 'configs' }),
    h('h2', {}, 'Danger'), del,
  ];
}

async function groupsPage() {
  const list = await api('/groups');
  return [
    h('h1', {}, 'Consumer groups'),
    h('p', { class: 'muted' }, 'Kafka and RocketMQ groups share one offset table.'),
    table([
      { title: 'group', cell: (g) => h('a', { href: '#/groups/' + enc(g.group) }, g.group) },
      { title: 'protocols', cell: (g) => (g.protocols.length ? tags(g.protocols) : h('span', { class: 'muted' }, 'offsets only')) },
      { title: 'state', cell: (g) => g.state },
      { title: 'members', num: true, cell: (g) => g.kafkaMembers + g.rocketmqClients },
      { title: 'topics', cell: (g) => g.topics.join(', ') },
      { title: 'lag', num: true, cell: (g) => num(g.lag) },
    ], list, { id: 'groups' }),
  ];
}

async function groupPage(params, name) {
  const g = await api('/groups/' + enc(name));
  const topics = [...new Set(g.offsets.map((o) => o.topic))];
  const reset = h('form', { class: 'inline', id: 'reset-group', onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const to = f.get('to');
    let value = Number(f.get('value')) || 0;
    if (to === 'time') value = Date.parse(f.get('value')) || Number(f.get('value')) || 0;
    const body = { topic: f.get('topic') || '', to, value, force: f.get('force') === 'on' };
    if (f.get('partition') !== '') body.partitions = [Number(f.get('partition'))];
    try {
      const r = await api('/groups/' + enc(name) + '/reset', { method: 'POST', body });
      say('moved ' + r.committed + ' offset(s) of ' + name + (r.rocketmqConsumersTold ? ' and told its RocketMQ consumers' : ''));
      route(true);
    } catch (err) { say(err.message, true); }
  } },
  h('label', {}, 'topic', h('select', { name: 'topic' }, h('option', { value: '' }, 'all committed'), topics.map((t) => h('option', { value: t }, t)))),
  h('label', {}, 'partition', h('input', { name: 'partition', type: 'number', min: 0, placeholder: 'all' })),
  h('label', {}, 'to', h('select', { name: 'to' }, ['start', 'end', 'offset', 'time', 'shift'].map((t) => h('option', { value: t }, t)))),
  h('label', {}, 'value (offset, shift, ISO time or ms)', h('input', { name: 'value' })),
  h('label', {}, 'force', h('input', { name: 'force', type: 'checkbox' })),
  h('button', { type: 'submit' }, 'Reset offsets'));
  return [
    h('h1', {}, 'Group ', h('span', { id: 'group-name' }, g.group)),
    h('div', { class: 'cards' }, card('State', g.state), card('Protocols', g.protocols.join(', ') || 'offsets only'),
      card('Kafka members', g.kafkaMembers), card('RocketMQ consumers', g.rocketmqClients), card('Lag', num(g.lag))),
    h('h2', {}, 'Offsets'),
    table([
      { title: 'topic', cell: (o) => h('a', { href: '#/topics/' + enc(o.topic) }, o.topic) },
      { title: 'partition', num: true, cell: (o) => o.partition },
      { title: 'committed', num: true, cell: (o) => num(o.committed) },
      { title: 'start', num: true, cell: (o) => num(o.start) }, { title: 'end', num: true, cell: (o) => num(o.end) },
      { title: 'lag', num: true, cell: (o) => num(o.lag) },
    ], g.offsets, { id: 'offsets' }),
    h('h2', {}, 'Reset offsets'),
    h('p', { class: 'muted' }, 'Refused while Kafka members are live; live RocketMQ consumers need force, and are then told (RESET_CONSUMER_CLIENT_OFFSET).'),
    reset,
    h('h2', {}, 'Kafka members'),
    table([{ title: 'member', cell: (m) => m.id }, { title: 'client', cell: (m) => m.clientId }, { title: 'host', cell: (m) => m.clientHost },
      { title: 'assigned', cell: (m) => Object.entries(m.assigned).map(([t, ps]) => t + ': ' + ps.join(',')).join('; ') }], g.members, { id: 'members' }),
    h('h2', {}, 'RocketMQ consumers'),
    g.rocketmq ? h('p', { class: 'muted' }, g.rocketmq.consumeType + ', ' + g.rocketmq.messageModel + ', ' + g.rocketmq.consumeFromWhere + '; subscribes to ' +
      Object.values(g.rocketmq.subscriptionTable || {}).map((x) => x.topic + ' (' + x.subString + ')').join(', ')) : null,
    table([{ title: 'client id', cell: (c) => c.clientId }, { title: 'address', cell: (c) => c.clientAddr },
      { title: 'language', cell: (c) => c.language }, { title: 'version', num: true, cell: (c) => c.version }],
    g.rocketmq ? g.rocketmq.connectionSet : [], { id: 'rocketmq-clients' }),
  ];
}

function messageTable(msgs) {
  return table([
    { title: 'partition', num: true, cell: (m) => m.partition },
    { title: 'offset', num: true, cell: (m) => m.offset },
    { title: 'from', cell: (m) => h('span', { class: 'tag ' + m.protocol }, m.protocol) },
    { title: 'key', cell: (m) => h('span', { class: 'key' }, m.key) },
    { title: 'tags', cell: (m) => m.tags },
    { title: 'stored', cell: (m) => time(m.storeMs) },
    { title: 'properties / headers', cell: (m) => m.properties.filter((p) => !['KEYS', 'TAGS', 'UNIQ_KEY'].includes(p.name)).map((p) => p.name + '=' + p.value).join(' ') },
    { title: 'body', cell: (m) => h('pre', { class: 'body' }, (m.bodyEncoding === 'base64' ? '(base64) ' : '') + m.body + (m.truncated ? ' …' : '')) },
    { title: 'message id', cell: (m) => h('span', { class: 'muted' }, m.msgId) },
  ], msgs, { id: 'messages' });
}

async function messagesPage(params) {
  const topic = params.get('topic') || '';
  const list = await api('/topics');
  const names = list.filter((t) => t.kind !== 'system').map((t) => t.name);
  const browse = h('form', { class: 'inline', id: 'browse', onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const p = new URLSearchParams();
    for (const k of ['topic', 'partition', 'offset']) if (f.get(k)) p.set(k, f.get(k));
    const t = f.get('time');
    if (t && !f.get('offset')) p.set('time', /^\d+$/.test(t) ? t : String(Date.parse(t)));
    location.hash = '#/messages?' + p;
  } },
  h('label', {}, 'topic', h('select', { name: 'topic' }, names.map((n) => h('option', { value: n, selected: n === topic }, n)))),
  h('label', {}, 'partition', h('input', { name: 'partition', type: 'number', min: 0, value: params.get('partition') || 0 })),
  h('label', {}, 'from offset', h('input', { name: 'offset', type: 'number', min: 0, value: params.get('offset') || '' })),
  h('label', {}, 'or from time (ISO or ms)', h('input', { name: 'time', value: params.get('time') || '' })),
  h('button', { type: 'submit' }, 'Browse'));
  const search = h('form', { class: 'inline', id: 'search', onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const p = new URLSearchParams({ topic: f.get('topic') });
    p.set(f.get('by'), f.get('q'));
    location.hash = '#/messages?' + p;
  } },
  h('label', {}, 'topic', h('select', { name: 'topic' }, names.map((n) => h('option', { value: n, selected: n === topic }, n)))),
  h('label', {}, 'by', h('select', { name: 'by' }, h('option', { value: 'key' }, 'key'), h('option', { value: 'id', selected: params.has('id') }, 'message id'))),
  h('label', {}, 'search', h('input', { name: 'q', id: 'search-q', value: params.get('key') || params.get('id') || '' })),
  h('button', { type: 'submit', id: 'search-go' }, 'Search (IndexFile)'));
  const out = [h('h1', {}, 'Messages'), browse, search];
  if (!topic) return out.concat(h('p', { class: 'muted' }, 'Choose a topic.'));
  if (params.get('key') || params.get('id')) {
    const by = params.get('key') ? 'key' : 'id';
    const r = await api('/messages/search?topic=' + enc(topic) + '&' + by + '=' + enc(params.get(by)));
    return out.concat(h('h2', {}, r.messages.length + ' found by ' + by + ' in ' + topic), messageTable(r.messages));
  }
  const p = new URLSearchParams({ partition: params.get('partition') || 0 });
  if (params.get('offset')) p.set('offset', params.get('offset'));
  else if (params.get('time')) p.set('time', params.get('time'));
  const page = await api('/topics/' + enc(topic) + '/messages?' + p);
  const next = new URLSearchParams({ topic, partition: page.partition, offset: page.next });
  return out.concat(
    h('h2', {}, topic + ' / ' + page.partition + ': offsets ' + page.from + '..' + (page.next - 1) + ' of [' + page.start + ', ' + page.end + ')'),
    messageTable(page.messages),
    page.next < page.end ? h('p', {}, h('a', { href: '#/messages?' + next }, 'next page')) : null);
}

async function dlqPage() {
  const list = await api('/dlq');
  return [
    h('h1', {}, 'Dead-letter queues'),
    h('p', { class: 'muted' }, 'Re-send stores each dead letter again in its original topic, from where the last re-send stopped.'),
    table([
      { title: 'group', cell: (d) => h('a', { href: '#/groups/' + enc(d.group) }, d.group) },
      { title: 'DLQ topic', cell: (d) => h('a', { href: '#/messages?topic=' + enc(d.topic) }, d.topic) },
      { title: 'stored', num: true, cell: (d) => num(d.end - d.start) },
      { title: 'not yet re-sent', num: true, cell: (d) => num(d.pending) },
      { title: '', cell: (d) => h('button', { class: 'resend', dataset: { group: d.group }, onclick: async () => {
        try { const r = await api('/dlq/' + enc(d.group) + '/resend', { method: 'POST' }); say('re-sent ' + r.resent + ', skipped ' + r.skipped); route(true); } catch (err) { say(err.message, true); }
      } }, 'Re-send') },
    ], list, { id: 'dlq' }),
  ];
}

async function delayPage() {
  const d = await api('/delay');
  return [
    h('h1', {}, 'Delay levels and timer'),
    d.running ? null : h('p', { class: 'muted' }, 'The delivery services do not run on this broker (a slave).'),
    h('h2', {}, 'Delay levels (SCHEDULE_TOPIC_XXXX)'),
    table([
      { title: 'level', num: true, cell: (l) => l.level }, { title: 'delay', cell: (l) => l.delay },
      { title: 'stored', num: true, cell: (l) => num(l.stored) }, { title: 'delivered', num: true, cell: (l) => num(l.delivered) },
      { title: 'pending', num: true, cell: (l) => num(l.pending) },
    ], d.levels, { id: 'levels' }),
    h('h2', {}, 'Timer wheel'),
    d.timer ? h('div', { class: 'cards', id: 'timer' }, card('Timer messages stored', num(d.timerStored)), card('Accepted', num(d.timer.ingested)),
      card('Fired', num(d.timer.fired)), card('Pending slots', num(d.timer.pendingSlots)), card('In memory', num(d.timer.inHeap)))
      : h('p', { class: 'muted' }, 'Timer wheel off (timerWheelEnable=false).'),
  ];
}

// A small SVG line chart of points [{t, v}].
function chart(title, points, unit) {
  const w = 600, ht = 160, pad = 34;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${ht}`);
  const maxV = Math.max(1e-9, ...points.map((p) => p.v));
  const t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1;
  const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - pad - 8);
  const y = (v) => ht - 18 - (v / maxV) * (ht - 30);
  const el = (tag, a, text) => { const e = document.createElementNS('http://www.w3.org/2000/svg', tag); for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); if (text) e.textContent = text; svg.append(e); };
  el('line', { x1: pad, y1: ht - 18, x2: w - 8, y2: ht - 18, stroke: '#cfd4dc' });
  el('text', { x: 2, y: 14, 'font-size': 11, fill: '#667085' }, maxV < 10 ? maxV.toFixed(2) : fmt.format(Math.round(maxV)));
  el('text', { x: 2, y: ht - 20, 'font-size': 11, fill: '#667085' }, '0');
  if (points.length > 1) el('polyline', { fill: 'none', stroke: '#2b59c3', 'stroke-width': 2, points: points.map((p) => x(p.t) + ',' + y(p.v)).join(' ') });
  const last = points.length ? points[points.length - 1].v : 0;
  return h('div', { class: 'chart' }, h('h3', {}, title + ': ' + (last < 10 ? last.toFixed(2) : fmt.format(Math.round(last))) + ' ' + unit), svg);
}

// quantile of the observations between two cumulative histograms.
function quantile(prev, cur, q) {
  if (!cur || !prev || cur.count <= prev.count) return 0;
  const n = cur.count - prev.count;
  for (let i = 0; i < cur.bounds.length; i++) {
    const c = cur.counts[i] - (prev.counts[i] || 0);
    if (c >= q * n) return cur.bounds[i] * 1000;
  }
  return cur.bounds.length ? cur.bounds[cur.bounds.length - 1] * 1000 : 0;
}

const history = [];
async function metricsPage() {
  const m = await api('/metrics');
  history.push(m);
  while (history.length > 120) history.shift();
  const series = { in: [], out: [], bin: [], bout: [], kp99: [], rp99: [] };
  for (let i = 1; i < history.length; i++) {
    const a = history[i - 1], b = history[i], dt = Math.max(0.001, (b.timeMs - a.timeMs) / 1000), t = b.timeMs;
    series.in.push({ t, v: (b.messagesIn - a.messagesIn) / dt });
    series.out.push({ t, v: (b.messagesOut - a.messagesOut) / dt });
    series.bin.push({ t, v: (b.bytesIn - a.bytesIn) / dt / 1024 });
    series.bout.push({ t, v: (b.bytesOut - a.bytesOut) / dt / 1024 });
    series.kp99.push({ t, v: quantile(a.latency.kafka, b.latency.kafka, 0.99) });
    series.rp99.push({ t, v: quantile(a.latency.remoting, b.latency.remoting, 0.99) });
  }
  clearTimeout(timer);
  timer = setTimeout(() => { if (currentPage === 'metrics') route(true); }, 2000);
  return [
    h('h1', {}, 'Throughput and latency'),
    h('p', { class: 'muted' }, 'From the broker\'s own metrics, polled every 2 s. Totals since start: ' + num(m.messagesIn) + ' messages in, ' + num(m.messagesOut) + ' out.'),
    h('div', { class: 'charts', id: 'charts' },
      chart('Messages in', series.in, '/s'), chart('Messages out', series.out, '/s'),
      chart('Bytes in', series.bin, 'KiB/s'), chart('Bytes out', series.bout, 'KiB/s'),
      chart('Kafka request p99', series.kp99, 'ms'), chart('RocketMQ request p99', series.rp99, 'ms')),
  ];
}

const pages = [
  [/^$/, 'cluster', clusterPage],
  [/^topics$/, 'topics', topicsPage],
  [/^topics\/(.+)$/, 'topic', topicPage],
  [/^groups$/, 'groups', groupsPage],
  [/^groups\/(.+)$/, 'group', groupPage],
  [/^messages$/, 'messages', messagesPage],
  [/^dlq$/, 'dlq', dlqPage],
  [/^delay$/, 'delay', delayPage],
  [/^metrics$/, 'metrics', metricsPage],
];

let currentPage = '';
async function route(refresh) {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  if (!refresh) flash.hidden = true;
  for (const [re, name, fn] of pages) {
    const m = path.match(re);
    if (!m) continue;
    currentPage = name;
    document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', name.startsWith(a.dataset.nav.replace(/s$/, ''))));
    if (!refresh) main.dataset.ready = 'false';
    main.dataset.page = name;
    try {
      const nodes = await fn(params, ...m.slice(1).map(decodeURIComponent));
      if (currentPage !== name) return;
      main.replaceChildren(...nodes.flat().filter((n) => n));
      main.dataset.ready = 'true';
    } catch (err) {
      main.replaceChildren(h('h1', {}, 'Error'), h('p', { class: 'error', id: 'error' }, err.message));
      main.dataset.ready = 'error';
    }
    return;
  }
  main.replaceChildren(h('h1', {}, 'Not found'));
  main.dataset.ready = 'error';
}

window.addEventListener('hashchange', () => route());
route();
