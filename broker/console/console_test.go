package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twinmq/twinmq/broker/topics"
)

// TestGuard: what a request must carry to change anything, and the
// read-only and authorization hooks.
func TestGuard(t *testing.T) {
	denied := errors.New("no credentials")
	cases := []struct {
		name    string
		cfg     Config
		method  string
		header  bool
		origin  string
		want    int
		wantErr string
	}{
		{"read", Config{}, "GET", false, "", 200, ""},
		{"change without the header", Config{}, "POST", false, "", 403, HeaderName},
		{"change from another origin", Config{}, "POST", true, "http://evil.example", 403, "origin"},
		{"change from this origin", Config{}, "POST", true, "http://example.com", 200, ""},
		{"change", Config{}, "POST", true, "", 200, ""},
		{"read-only change", Config{ReadOnly: true}, "POST", true, "", 403, "read-only"},
		{"read-only read", Config{ReadOnly: true}, "GET", false, "", 200, ""},
		{"unauthorized", Config{Authorize: func(*http.Request) error { return denied }}, "GET", false, "", 401, "no credentials"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, c.cfg)
			var req *http.Request
			if c.method == "GET" {
				req = httptest.NewRequest("GET", "/api/topics", nil)
			} else {
				req = httptest.NewRequest("POST", "/api/topics", strings.NewReader(`{"name":"t`+string(rune('a'+i))+`"}`))
			}
			if c.header {
				req.Header.Set(HeaderName, "1")
			}
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			status, body := e.do(t, req)
			if status != c.want || !strings.Contains(body, c.wantErr) {
				t.Fatalf("%s %s: %d %s, want %d with %q", c.method, req.URL, status, body, c.want, c.wantErr)
			}
			if c.method == "POST" {
				_, created := e.reg.Get("t" + string(rune('a'+i)))
				if created != (c.want == 200) {
					t.Fatalf("topic created: %v, want %v", created, c.want == 200)
				}
			}
		})
	}
}

// TestBrowseAndSearch: RocketMQ messages appended through the log
// service are browsed by offset and found by key through the IndexFile
// (QUERY_MESSAGE served in process).
func TestBrowseAndSearch(t *testing.T) {
	e := newTestEnv(t, Config{})
	if _, err := e.reg.Create(context.Background(), topics.Config{Name: "t", Queues: 2}); err != nil {
		t.Fatal(err)
	}
	e.send(t, "t", 1, 5)
	status, body := e.do(t, httptest.NewRequest("GET", "/api/topics/t/messages?partition=1&offset=1&limit=2", nil))
	var page struct {
		Next     int64
		Messages []Message
	}
	if err := json.Unmarshal([]byte(body), &page); status != 200 || err != nil {
		t.Fatalf("browse: %d %s %v", status, body, err)
	}
	if len(page.Messages) != 2 || page.Next != 3 || page.Messages[0].Key != "k1" || page.Messages[0].Body != "body 1" ||
		page.Messages[0].Protocol != "rocketmq" || page.Messages[0].Tags != "T" || page.Messages[0].OffsetMsgID == "" {
		t.Fatalf("browse: %+v", page)
	}
	status, body = e.do(t, httptest.NewRequest("GET", "/api/messages/search?topic=t&key=k3", nil))
	var found struct{ Messages []Message }
	if err := json.Unmarshal([]byte(body), &found); status != 200 || err != nil || len(found.Messages) != 1 || found.Messages[0].Offset != 3 {
		t.Fatalf("search k3: %d %s %v", status, body, err)
	}
	// By its offsetMsgId (VIEW_MESSAGE_BY_ID).
	status, body = e.do(t, httptest.NewRequest("GET", "/api/messages/search?topic=t&id="+page.Messages[1].OffsetMsgID, nil))
	if err := json.Unmarshal([]byte(body), &found); status != 200 || err != nil || len(found.Messages) != 1 || found.Messages[0].Key != "k2" {
		t.Fatalf("search by offsetMsgId: %d %s %v", status, body, err)
	}
}
