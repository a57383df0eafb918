package console

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
)

// FuzzDecodeStored: the message decoder never panics, whatever the bytes,
// as stored RocketMQ messages or as a Kafka batch to convert, and never
// shows more body than it was given.
func FuzzDecodeStored(f *testing.F) {
	e := newTestEnv(f, Config{})
	if _, err := e.reg.Create(context.Background(), topics.Config{Name: "t", Queues: 1}); err != nil {
		f.Fatal(err)
	}
	e.send(f, "t", 0, 2)
	res, err := e.logs.Read("t", 0, 0, log.ReadOptions{MaxBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	for _, en := range res.Entries {
		f.Add(bytes.Clone(en.Payload), false)
	}
	res.Release()
	// A Kafka v2 batch header with no records.
	batch := make([]byte, 61)
	binary.BigEndian.PutUint32(batch[8:], 49)
	batch[16] = 2
	f.Add(batch, true)
	srv := &Server{}
	f.Fuzz(func(t *testing.T, b []byte, kafka bool) {
		body := b
		if kafka {
			var err error
			body, _, err = srv.stored("t", 0, log.Entry{Kind: log.KindKafka, Payload: b}, 0)
			if err != nil {
				return
			}
		}
		_ = decodeStored(body, kafka, func(m Message) bool {
			if m.BodySize > len(body) || len(m.Body) > 2*maxShownBody {
				t.Fatalf("message %+v from %d bytes", m, len(body))
			}
			return true
		})
	})
}

// FuzzAPI: any GET or POST to the API answers JSON with a status below
// 500, never a crash, over a store with messages.
func FuzzAPI(f *testing.F) {
	e := newTestEnv(f, Config{})
	if _, err := e.reg.Create(context.Background(), topics.Config{Name: "t", Queues: 2}); err != nil {
		f.Fatal(err)
	}
	e.send(f, "t", 0, 3)
	if err := e.offs.Commit(context.Background(), "g", "t", 0, 1); err != nil {
		f.Fatal(err)
	}
	seeds := []struct{ method, path, body string }{
		{"GET", "/api/topics/t/messages?partition=0&offset=1&limit=2", ""},
		{"GET", "/api/topics/t/messages?partition=1&time=0", ""},
		{"GET", "/api/messages/search?topic=t&key=k1", ""},
		{"GET", "/api/messages/search?topic=t&id=00000000000000000000000000000001", ""},
		{"GET", "/api/groups/g", ""},
		{"GET", "/api/topics/t", ""},
		{"POST", "/api/groups/g/reset", `{"topic":"t","to":"shift","value":-5}`},
		{"POST", "/api/groups/g/reset", `{"to":"time","value":0,"dryRun":true}`},
		{"POST", "/api/topics", `{"name":"u","partitions":3,"configs":{"retention.ms":"1"}}`},
		{"PATCH", "/api/topics/t", `{"configs":{"retention.ms":null},"partitions":3}`},
		{"POST", "/api/dlq/g/resend", ``},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		switch method {
		case "GET", "POST", "PATCH":
		default:
			return
		}
		u, err := url.Parse(path)
		if err != nil || !strings.HasPrefix(u.Path, "/api/") || u.Path == "/api/topics/t" && method == "DELETE" {
			return
		}
		req := httptest.NewRequest(method, "/", bytes.NewReader(body))
		req.URL, req.RequestURI = u, ""
		req.Header.Set(HeaderName, "1")
		status, out := e.do(t, req)
		if status >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, status, out)
		}
		// ServeMux redirects unclean paths (/api/./x) and answers 405 as text.
		if status != 405 && (status < 300 || status >= 400) && !json.Valid([]byte(out)) {
			t.Fatalf("%s %s: %d, not JSON: %s", method, path, status, out)
		}
	})
}

// FuzzResetBody: the reset body's decoder and check never panic, and a
// body they accept names a known target.
func FuzzResetBody(f *testing.F) {
	for _, s := range []string{`{"to":"start"}`, `{"topic":"t","partitions":[0,1],"to":"offset","value":3,"force":true}`,
		`{"to":"shift","value":-9223372036854775808}`, `{"partitions":[-1],"to":"end"}`, `[]`, `{"to":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := httptest.NewRequest("POST", "/api/groups/g/reset", bytes.NewReader(b))
		var body resetBody
		if decodeBody(req, &body) != nil || body.check() != nil {
			return
		}
		switch body.To {
		case "start", "end", "offset", "time", "shift":
		default:
			t.Fatalf("accepted %q", body.To)
		}
	})
}
