package nameserver

import (
	"context"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/wire/remoting"
)

// regRequest is a REGISTER_BROKER of broker-a's master at brokerAddr with
// topics.
func regRequest(brokerAddr string, topics ...string) *remoting.Command {
	body := EncodeRegisterBody(topicsOf(topics...), DataVersion{})
	req := remoting.NewRequest(remoting.RegisterBroker, 0)
	req.Language = "GO"
	maps.Copy(req.ExtFields, map[string]string{"brokerName": "broker-a", "brokerAddr": brokerAddr,
		"clusterName": "DefaultCluster", "brokerId": "0", "bodyCrc32": strconv.FormatInt(int64(remoting.BodyCRC(body)), 10)})
	req.Body = body
	return req
}

func call(t *testing.T, c *Client, req *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func dialT(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRegistrationSecret: with a secret configured, REGISTER_BROKER and
// UNREGISTER_BROKER need a signature under it (NO_PERMISSION otherwise,
// nothing changes): unsigned, signed with another secret, a signed
// request altered after signing, a replay of an accepted request and a
// timestamp outside the skew are all refused.
func TestRegistrationSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Config{RegistrationSecret: "s3cret", Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	srv, stop, err := Listen(context.Background(), "127.0.0.1:0", s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	addr := srv.Addr().String()
	real, other := dialT(t, addr), dialT(t, addr)

	refused := func(what string, c *Client, req *remoting.Command) {
		t.Helper()
		if r := call(t, c, req); r.Code != remoting.NoPermission {
			t.Fatalf("%s: code %d %q, want NO_PERMISSION", what, r.Code, r.Remark)
		}
		if len(s.Table().Brokers()) != 0 && what != "replay" && what != "unsigned unregister" {
			t.Fatalf("%s: brokers %v", what, s.Table().Brokers())
		}
	}
	refused("unsigned", other, regRequest("10.0.0.1:10911", "T"))
	wrong := regRequest("10.0.0.1:10911", "T")
	SignRegistration("guess", wrong, now.UnixNano())
	refused("other secret", other, wrong)
	altered := regRequest("10.0.0.1:10911", "T")
	SignRegistration("s3cret", altered, now.UnixNano())
	altered.ExtFields["brokerAddr"] = "10.6.6.6:10911"
	refused("altered", other, altered)
	stale := regRequest("10.0.0.1:10911", "T")
	SignRegistration("s3cret", stale, now.Add(-MaxRegistrationSkew-time.Second).UnixNano())
	refused("stale", other, stale)

	good := regRequest("10.0.0.1:10911", "T")
	SignRegistration("s3cret", good, now.UnixNano())
	if r := call(t, real, good); r.Code != remoting.Success {
		t.Fatalf("signed: %d %s", r.Code, r.Remark)
	}
	// The same bytes again, from another connection: refused, and the
	// registration stays on the real broker's connection.
	good.Opaque = 0
	refused("replay", other, good)
	if b := s.Table().Brokers(); len(b) != 1 || b[0].Addr != "10.0.0.1:10911" {
		t.Fatalf("brokers after replay %v", b)
	}
	_ = other.Close()
	if _, ok := s.Table().Route("T"); !ok {
		t.Fatal("route of T gone")
	}

	unreg := remoting.NewRequest(remoting.UnregisterBroker, 0)
	maps.Copy(unreg.ExtFields, map[string]string{"brokerName": "broker-a", "brokerAddr": "10.0.0.1:10911",
		"clusterName": "DefaultCluster", "brokerId": "0"})
	refused("unsigned unregister", dialT(t, addr), unreg)
	if _, ok := s.Table().Route("T"); !ok {
		t.Fatal("route of T gone after an unsigned unregister")
	}
	SignRegistration("s3cret", unreg, now.Add(time.Millisecond).UnixNano())
	if r := call(t, real, unreg); r.Code != remoting.Success {
		t.Fatalf("signed unregister: %d %s", r.Code, r.Remark)
	}
	if _, ok := s.Table().Route("T"); ok {
		t.Fatal("route of T after unregister")
	}
}

// TestRegistrationNamingAnotherBrokersAddress: a registration or an
// unregistration that names the address of a live broker under another
// name or id (without a secret, anyone can send one) is refused with
// SYSTEM_ERROR naming both, and the live broker keeps its routes.
func TestRegistrationNamingAnotherBrokersAddress(t *testing.T) {
	s := New(Config{Logger: slog.New(slog.DiscardHandler)})
	srv, stop, err := Listen(context.Background(), "127.0.0.1:0", s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	addr := srv.Addr().String()
	real, fake := dialT(t, addr), dialT(t, addr)
	if r := call(t, real, regRequest("10.0.0.1:10911", "T", "U")); r.Code != remoting.Success {
		t.Fatalf("register: %d %s", r.Code, r.Remark)
	}
	otherName := regRequest("10.0.0.1:10911", "X")
	otherName.ExtFields["brokerName"] = "broker-x"
	asSlave := regRequest("10.0.0.1:10911")
	asSlave.ExtFields["brokerId"] = "1"
	wrongGoodbye := remoting.NewRequest(remoting.UnregisterBroker, 0)
	maps.Copy(wrongGoodbye.ExtFields, map[string]string{"brokerName": "broker-x", "brokerAddr": "10.0.0.1:10911",
		"clusterName": "DefaultCluster", "brokerId": "0"})
	for what, req := range map[string]*remoting.Command{"other name": otherName, "as slave": asSlave, "unregister": wrongGoodbye} {
		r := call(t, fake, req)
		if r.Code != remoting.SystemError || !strings.Contains(r.Remark, "10.0.0.1:10911") {
			t.Fatalf("%s: %d %q, want SYSTEM_ERROR naming the address", what, r.Code, r.Remark)
		}
		for _, topic := range []string{"T", "U"} {
			rd, ok := s.Table().Route(topic)
			if !ok || rd.BrokerDatas[0].BrokerAddrs[0] != "10.0.0.1:10911" || len(rd.BrokerDatas[0].BrokerAddrs) != 1 {
				t.Fatalf("%s: route of %s %+v %v", what, topic, rd, ok)
			}
		}
		if _, ok := s.Table().Route("X"); ok {
			t.Fatalf("%s: X routed", what)
		}
	}
	// The broker itself may change its mind over its own connection.
	if r := call(t, real, otherName); r.Code != remoting.Success {
		t.Fatalf("rename over the holder's connection: %d %s", r.Code, r.Remark)
	}
}

func TestVerifierZeroSecretAcceptsAll(t *testing.T) {
	v := &verifier{}
	if err := v.verify(regRequest("a:1"), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// FuzzVerifyRegistration: whatever the ext fields and body, verify never
// panics and accepts a request only as signed: a correctly signed request
// passes once, and the same request with its body or any signed field
// changed does not.
func FuzzVerifyRegistration(f *testing.F) {
	f.Add("c", "broker-a", "0", "127.0.0.1:10911", "", "", []byte(`{}`), "", "")
	f.Add("c", "b", "x", "a:1", "h:2", "3", []byte{0xff}, "zz", "-1")
	f.Add("", "", "", "", "", "", []byte(nil), "00", "99999999999999999999")
	f.Fuzz(func(t *testing.T, cluster, name, id, addr, ha, epoch string, body []byte, sig, ts string) {
		now := time.Unix(1_800_000_000, 0)
		v := &verifier{secret: "k", skew: time.Minute, last: make(map[string]int64)}
		req := remoting.NewRequest(remoting.RegisterBroker, 0)
		maps.Copy(req.ExtFields, map[string]string{"clusterName": cluster, "brokerName": name, "brokerId": id,
			"brokerAddr": addr, "haServerAddr": ha, "masterEpoch": epoch, extRegSignature: sig, extRegTimestamp: ts})
		req.Body = body
		_ = v.verify(req, now) // forged: must not panic
		SignRegistration("k", req, now.UnixNano())
		signed := maps.Clone(req.ExtFields)
		if err := v.verify(req, now); err != nil {
			t.Fatalf("signed request refused: %v", err)
		}
		SignRegistration("k", req, now.UnixNano()+1)
		for _, k := range signedFields[:len(signedFields)-1] {
			req.ExtFields[k] += "x"
			if v.verify(req, now) == nil {
				t.Fatalf("accepted with %s changed", k)
			}
			req.ExtFields[k] = strings.TrimSuffix(req.ExtFields[k], "x")
		}
		req.Body = append(req.Body, 0)
		if v.verify(req, now) == nil {
			t.Fatal("accepted with the body changed")
		}
		req.ExtFields = signed
		req.Body = body
		if v.verify(req, now) == nil {
			t.Fatal("replay accepted")
		}
	})
}
