package nameserver

import (
	"context"
	"testing"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestACLAdminCodes: with accounts, DELETE_TOPIC_IN_NAMESRV and
// UNREGISTER_BROKER need an admin's signature; routes stay open.
func TestACLAdminCodes(t *testing.T) {
	accs, err := auth.OpenAccounts("")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []auth.Account{
		{Name: "alice", AccessKey: "alice-ak", SecretKey: "alice-secret"},
		{Name: "root", AccessKey: "root-ak", SecretKey: "root-secret", Admin: true},
	} {
		if err := accs.Put(a); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Config{Accounts: accs})
	srv, stop, err := Listen(context.Background(), "127.0.0.1:0", s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	c, err := Dial(context.Background(), srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A broker registers (unsigned: no registration secret) with topic t.
	body := []byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"t":{"topicName":"t","readQueueNums":1,"writeQueueNums":1,"perm":6}}}}`)
	reg := map[string]string{"brokerName": "b", "brokerAddr": "127.0.0.1:10911", "clusterName": "c", "brokerId": "0", "haServerAddr": ""}
	if r := invoke(t, c, remoting.RegisterBroker, reg, body); r.Code != remoting.Success {
		t.Fatalf("register: %d %s", r.Code, r.Remark)
	}
	signed := func(ak, sk string, f map[string]string) map[string]string {
		out := map[string]string{auth.FieldAccessKey: ak}
		for k, v := range f {
			out[k] = v
		}
		out[auth.FieldSignature] = auth.Sign(out, nil, sk)
		return out
	}
	if r := invoke(t, c, remoting.GetRouteinfoByTopic, map[string]string{"topic": "t"}, nil); r.Code != remoting.Success {
		t.Fatalf("route, unsigned: %d %s", r.Code, r.Remark)
	}
	del := map[string]string{"topic": "t"}
	for name, ext := range map[string]map[string]string{
		"unsigned":     del,
		"not an admin": signed("alice-ak", "alice-secret", del),
		"wrong secret": signed("root-ak", "alice-secret", del),
	} {
		if r := invoke(t, c, remoting.DeleteTopicInNamesrv, ext, nil); r.Code != remoting.NoPermission {
			t.Errorf("delete topic, %s: %d %s", name, r.Code, r.Remark)
		}
	}
	if _, ok := s.Table().Route("t"); !ok {
		t.Fatal("a refused delete removed the route")
	}
	if r := invoke(t, c, remoting.UnregisterBroker, reg, nil); r.Code != remoting.NoPermission {
		t.Errorf("unsigned unregister: %d %s", r.Code, r.Remark)
	}
	if r := invoke(t, c, remoting.DeleteTopicInNamesrv, signed("root-ak", "root-secret", del), nil); r.Code != remoting.Success {
		t.Errorf("delete topic, admin: %d %s", r.Code, r.Remark)
	}
	if _, ok := s.Table().Route("t"); ok {
		t.Error("the admin's delete left the route")
	}
	if r := invoke(t, c, remoting.UnregisterBroker, signed("root-ak", "root-secret", reg), nil); r.Code != remoting.Success {
		t.Errorf("admin unregister: %d %s", r.Code, r.Remark)
	}
}
