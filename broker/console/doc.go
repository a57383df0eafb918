// Package console is twinmq's web console: static pages embedded in the
// binary and the JSON API under /api/ they read, both served on the HTTP
// port beside /metrics (broker/httpapi). docs/console.md lists the pages
// and the endpoints.
//
// It is an adapter, as the Kafka and RocketMQ ones are: HTTP and JSON on
// one side, broker services on the other. It reads directly what every
// reader may read (the topic registry, the offset table, queue ranges and
// stored entries through broker/log, the IndexFile through the store's
// query) and decodes both protocols' stored messages for the message
// browser. It never writes itself: every change (topic create, alter and
// delete, an offset reset, a DLQ re-send) is the Kafka or RocketMQ admin
// request a tool would send, served in process by that adapter
// (kafkaapi.Handler.Do, remotingapi.Broker.Invoke), so the console
// behaves exactly as kadm or mqadmin do against the same broker, refusals
// included.
//
// Cross-site requests: a mutating request (any method but GET and HEAD)
// must carry the header X-Twinmq-Console, which a page of another origin
// cannot set without a CORS preflight this server never grants, and an
// Origin header, when present, must name this host. Config.ReadOnly
// refuses every mutation; Config.Authorize is where authentication plugs
// in once the broker has principals (docs/console.md, "Security").
package console
