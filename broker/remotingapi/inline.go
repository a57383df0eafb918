package remotingapi

import (
	"net"
	"strings"
	"time"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// OnFrameInline implements netio.InlineHandler: it answers on the event
// loop the requests that cannot block there, and declines everything
// else, which OnFrame then handles on its own goroutine.
//
// A SEND_MESSAGE (10) or SEND_MESSAGE_V2 (310) is answered inline when the
// store acknowledges at the page cache (ASYNC_FLUSH: the append is a copy
// under the append lock, the dispatcher is woken without waiting) and its
// topic exists and is not a %RETRY% topic (creating a topic, or the DLQ of
// a retry over its maximum, writes the topic table). A send that fails its
// checks is answered inline too, with the same error response. A
// PULL_MESSAGE (11) long poll at the end of its queue is parked inline
// (parkInline): it reads nothing. SYNC_FLUSH sends wait for an fsync,
// pulls that read records may fault in cold pages, and heartbeats can
// notify consumers: they all stay off the loop.
func (b *Broker) OnFrameInline(c *netio.Conn, frame, dst []byte) ([]byte, bool) {
	return b.answerInline(c, c.RemoteAddr, frame, dst)
}

// answerInline is OnFrameInline for a client at remote() on c (nil in
// tests: no pull is then parked inline).
func (b *Broker) answerInline(c *netio.Conn, remote func() net.Addr, frame, dst []byte) ([]byte, bool) {
	code, ok := remoting.PeekCode(frame)
	if b.cfg.Accounts != nil {
		return dst, false // OnFrame checks the signature and the ACL (acl.go)
	}
	if !ok || !(isSingleSend(code) && b.logs.AcksWhenWritten() || code == remoting.PullMessage && c != nil) {
		return dst, false
	}
	start := time.Now()
	req, err := remoting.Decode(frame)
	if err != nil || req.IsResponse() || req.Code != code {
		return dst, false // OnFrame logs and closes, or answers
	}
	if code == remoting.PullMessage {
		parked := b.parkInline(c, req)
		if parked {
			b.codes[code].served.Add(1)
		}
		return dst, parked
	}
	r, err := parseSendRequest(req.ExtFields)
	if err != nil || r.batch || strings.HasPrefix(r.topic, retryGroupPrefix) {
		return dst, false
	}
	if _, ok := b.topics.Get(r.topic); !ok {
		return dst, false
	}
	resp := b.send(b.ctx, addrPort(remote()), req, &r)
	rt := b.codes[code]
	rt.served.Add(1)
	if req.IsOneway() {
		return dst, true
	}
	dst = remoting.AppendCommand(dst, resp)
	b.observe(code, rt, resp.Code, start)
	return dst, true
}

func isSingleSend(code int32) bool {
	return code == remoting.SendMessage || code == remoting.SendMessageV2
}
