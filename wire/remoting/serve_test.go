package remoting

import (
	"errors"
	"testing"
)

// fakeConn records what a server writes and whether it closed.
type fakeConn struct {
	writes []*Command
	closed bool
}

func (c *fakeConn) Write(bufs ...[]byte) error {
	var b []byte
	for _, p := range bufs {
		b = append(b, p...)
	}
	cmd, err := Decode(b[4:])
	if err != nil {
		return err
	}
	c.writes = append(c.writes, cmd)
	return nil
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

// TestServeFrame: what a client sees for each kind of frame.
func TestServeFrame(t *testing.T) {
	const known, unknown = 10, 99
	frame := func(cmd *Command) []byte { return AppendCommand(nil, cmd)[4:] }
	route := func(code int32) Handler {
		if code != known {
			return nil
		}
		return func(req *Command) *Command { return NewResponse(req, Success, "ok") }
	}
	oneway := NewRequest(known, 2)
	oneway.Flag |= FlagOneway
	resp := NewResponse(NewRequest(known, 3), Success, "")
	tests := []struct {
		name      string
		frame     []byte
		code      int32 // of the one reply; -1: none
		closed    bool
		responses int
	}{
		{"request", frame(NewRequest(known, 1)), Success, false, 0},
		{"unknown code", frame(NewRequest(unknown, 1)), RequestCodeNotSupported, false, 0},
		{"oneway", frame(oneway), -1, false, 0},
		{"response", frame(resp), -1, false, 1},
		{"garbage", []byte{0, 0, 0, 9, 1}, -1, true, 0},
	}
	for _, tc := range tests {
		c := &fakeConn{}
		responses := 0
		err := ServeFrame(c, tc.frame, route, func(*Command) { responses++ })
		if (err != nil) != tc.closed || !errors.Is(err, ErrMalformed) && err != nil {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if c.closed != tc.closed || responses != tc.responses {
			t.Errorf("%s: closed %v, %d responses", tc.name, c.closed, responses)
		}
		switch {
		case tc.code < 0 && len(c.writes) != 0:
			t.Errorf("%s: answered %+v", tc.name, c.writes[0])
		case tc.code >= 0 && (len(c.writes) != 1 || c.writes[0].Code != tc.code || c.writes[0].Opaque != 1):
			t.Errorf("%s: writes %+v, want one of code %d", tc.name, c.writes, tc.code)
		}
	}
}
