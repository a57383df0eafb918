// Package netio is twinmq's network layer: gnet v2 event loops that cut a
// byte stream into frames, hand each frame to a protocol adapter off the
// event loop, and write replies back. It knows bytes only and imports nothing
// of twinmq; broker/kafkaapi and broker/remotingapi implement Handler.
//
// # Framing (layout v1)
//
// Both Kafka and RocketMQ remoting prefix every frame with a 4-byte
// big-endian signed length of what follows (LengthPrefixed):
//
//	+----------------+----------------------------------+
//	| length (int32) | body (length bytes)              |
//	+----------------+----------------------------------+
//	  header           handed to Handler.OnFrame
//
// The declared length is checked against the Framer's maximum before any
// byte of the body is allocated; a negative or oversized length closes the
// connection (after Config.OnFrameError) and never reaches the handler.
//
// # Threads and ownership
//
//   - The gnet event loop reads, frames and copies: a complete body is copied
//     out of gnet's buffer into a fresh []byte that the handler owns, and
//     OnFrame runs off the event loop, on a goroutine netio starts.
//     Handler.OnOpen and Handler.OnClose run on the event loop and must not
//     block.
//   - Serial ordering (Kafka) hands a connection's next frame to the handler
//     only after done() of the previous one, so replies leave in request
//     order. The loop reads ahead: up to 1 MiB of complete frames (at least
//     one, at most Config.MaxBufferedBytes) wait, copied, in the
//     connection's queue, and the goroutine whose frame called done()
//     before OnFrame returned runs the next one too, so pipelined requests
//     cost neither an event-loop wake-up nor a goroutine each (serial.go).
//     Concurrent ordering (RocketMQ) hands every frame at once, each on a
//     goroutine of its own (a parked worker when one is idle, workers.go),
//     up to Config.MaxInFlight per connection; replies are matched by
//     opaque.
//   - A Handler that is also an InlineHandler is offered each frame of up
//     to 64 KiB on the event loop first (inline.go), uncopied; under
//     Serial ordering only while the connection has nothing else in
//     progress (no frame queued or served, no earlier reply still queued
//     for the loop to write), so replies keep their order. A frame it
//     answers there (a RocketMQ send, or a Kafka Produce of one batch, in
//     ASYNC_FLUSH mode) costs no goroutine and no wake-up: its reply is
//     appended to the connection's buffer and all replies of one read
//     leave with one write(2) from the loop. A frame it declines goes on
//     as above. It must not block.
//   - Frames that cannot be handed (or read ahead) yet stay unread in gnet's
//     inbound buffer (not copied, not allocated by netio). gnet v2 offers no
//     way to stop polling a socket for reads, so the bound is a cap, not TCP
//     backpressure: more than Config.MaxBufferedBytes waiting there closes
//     the connection with ErrBacklog. Frames read ahead on a connection that
//     is closing are dropped, never handed.
//   - A frame left incomplete raises the socket's SO_RCVLOWAT to the bytes
//     it still lacks (up to 64 KiB), so a client that writes a frame in
//     pieces (rocketmq-client-go: four write(2)s per request) or a large
//     frame arriving in segments wakes the loop once for the rest, not
//     once per piece; the mark falls back to 1 once no frame is
//     incomplete (lowat.go).
//   - Conn.Write takes ownership of its buffers and queues them on the event
//     loop with AsyncWritev; writes from one goroutine keep their order.
//     Conn.WriteThen does the same and calls back once the buffers are no
//     longer referenced, so a caller can hand over mapped storage and
//     release it then (zero-copy RocketMQ pulls).
//
// Lock order: Server.mu, then Conn.mu. Neither is held while calling the
// Handler.
//
// TLS listeners (docs/design.md section 5) are a second transport behind
// the same Handler and Conn (stream.go): with Config.TLS set, a Server
// accepts with net.Listener, runs the crypto/tls handshake, and reads each
// connection on a goroutine of its own (gnet has no TLS). Framing, the
// per-connection frame bound (Conn.SetMaxFrame, which both transports
// check), ordering, the memory budget, the read and idle timeouts and
// Close behave as on gnet; Conn.TLS gives the peer's certificates.
package netio
