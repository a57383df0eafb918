package remoting

// The request side of a remoting server, written once for the broker
// (broker/remotingapi) and the name server (nameserver): decode a frame,
// route a request by its code, write the answer unless the request is
// oneway. It names no network type: Conn is what it needs of a
// connection (netio.Conn has it), so wire stays below netio.

// Conn is a connection a server answers on.
type Conn interface {
	Write(bufs ...[]byte) error
	Close() error
}

// Handler answers a request: the response, or nil when there is none now
// (the handler answers later itself, as a parked long poll does).
type Handler func(req *Command) *Command

// replyHeaderCap is the bytes reserved for a reply's frame header, so a
// reply is one allocation: a send response's header is about 250 bytes.
const replyHeaderCap = 384

// Reply writes resp on c unless req asked for no reply: only the oneway
// bit, never the request code, decides (docs/rocketmq-protocol.md §1.6).
func Reply(c Conn, req, resp *Command) error {
	if req.IsOneway() {
		return nil
	}
	return c.Write(AppendCommand(make([]byte, 0, replyHeaderCap+len(resp.Body)), resp))
}

// ServeFrame answers one frame read from c. A frame that does not decode
// closes c (its framing can no longer be trusted) and is returned for the
// caller to log. A response (the server asked the client something) goes
// to onResponse; nil drops it. A request goes to the handler route gives
// for its code, or is answered REQUEST_CODE_NOT_SUPPORTED when route
// gives nil; the answer is written with Reply.
func ServeFrame(c Conn, frame []byte, route func(code int32) Handler, onResponse func(*Command)) error {
	req, err := Decode(frame)
	if err != nil {
		_ = c.Close()
		return err
	}
	if req.IsResponse() {
		if onResponse != nil {
			onResponse(req)
		}
		return nil
	}
	var resp *Command
	if h := route(req.Code); h == nil {
		resp = NotSupported(req)
	} else {
		resp = h(req)
	}
	if resp != nil {
		_ = Reply(c, req, resp)
	}
	return nil
}
