package netio

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// rcvlowat reads c's SO_RCVLOWAT from the kernel.
func rcvlowat(t *testing.T, c *Conn) int {
	t.Helper()
	v, err := unix.GetsockoptInt(c.gc.Fd(), unix.SOL_SOCKET, unix.SO_RCVLOWAT)
	if err != nil {
		t.Fatalf("getsockopt SO_RCVLOWAT: %v", err)
	}
	return v
}

func waitLowat(t *testing.T, c *Conn, want int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("SO_RCVLOWAT %d", want), func() bool { return rcvlowat(t, c) == want })
}

func send(t *testing.T, nc net.Conn, b []byte) {
	t.Helper()
	if _, err := nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// A frame that arrives in pieces raises the socket's low-water mark to
// the bytes still missing (at most maxLowat), so that the kernel wakes
// the loop once for them, and the mark falls back to 1 once the frame is
// whole; the frame itself arrives intact, under both orderings.
func TestLowWaterMarkFollowsIncompleteFrames(t *testing.T) {
	for _, ord := range []Ordering{Concurrent, Serial} {
		t.Run(fmt.Sprint(ord), func(t *testing.T) {
			h := &funcHandler{}
			s := startServer(t, Config{Ordering: ord}, h)
			nc := dial(t, s)
			c := h.serverSide(t, nc)

			small := bytes.Repeat([]byte("s"), 100)
			msg := encode(small)
			send(t, nc, msg[:2]) // half of the length
			waitLowat(t, c, 2)
			send(t, nc, msg[2:14]) // the length and 10 bytes of the body
			waitLowat(t, c, 90)
			send(t, nc, msg[14:])
			if got := mustReadFrame(t, nc); !bytes.Equal(got, small) {
				t.Fatalf("small frame: got %d bytes, want the 100 sent", len(got))
			}
			waitLowat(t, c, 1)

			large := bytes.Repeat([]byte("L"), 1<<20)
			msg = encode(large)
			send(t, nc, msg[:5])
			waitLowat(t, c, maxLowat) // capped: 1 MiB - 1 missing
			send(t, nc, msg[5:])
			if got := mustReadFrame(t, nc); !bytes.Equal(got, large) {
				t.Fatalf("large frame: got %d bytes, want the 1 MiB sent", len(got))
			}
			waitLowat(t, c, 1)

			// Two whole frames and the start of a third in one write:
			// the two are answered, the mark waits for the third's rest.
			third := encode([]byte("third"))
			send(t, nc, append(append(encode([]byte("one")), encode([]byte("two"))...), third[:6]...))
			// (under Concurrent ordering, in either order)
			got := map[string]bool{string(mustReadFrame(t, nc)): true, string(mustReadFrame(t, nc)): true}
			if !got["one"] || !got["two"] {
				t.Fatalf("got %v, want one and two", got)
			}
			waitLowat(t, c, len(third)-6)
			send(t, nc, third[6:])
			if got := mustReadFrame(t, nc); string(got) != "third" {
				t.Fatalf("got %q, want third", got)
			}
			waitLowat(t, c, 1)
		})
	}
}
