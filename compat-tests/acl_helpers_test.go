package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/storage"
)

// aclCluster is `twinmq serve --authorizer-enable --acl-enable` in
// process: a name server, and one broker whose Kafka listener (PLAINTEXT:
// every connection is User:ANONYMOUS) and RocketMQ listener (AccessKey
// accounts) check the same ACL store.
type aclCluster struct {
	nsAddr, brokerAddr, kafkaAddr string
	ns                            *nameserver.Server
	reg                           *topics.Registry
	az                            *auth.Authorizer
	accs                          *auth.Accounts
}

// rmq gives the rocketmq-client-go helpers of rocketmq_helpers_test.go.
func (c *aclCluster) rmq() *rmqCluster {
	return &rmqCluster{nsAddr: c.nsAddr, ns: c.ns, brokerAddr: c.brokerAddr}
}

// startACLCluster starts the cluster over a fresh data directory whose
// accounts and ACLs setup writes first (as `twinmq acl ak create` does on
// a stopped broker).
func startACLCluster(t *testing.T, pol auth.Policy, setup func(az *auth.Authorizer, accs *auth.Accounts)) *aclCluster {
	t.Helper()
	ctx, log, dir := context.Background(), testLogger(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	az, err := auth.OpenAuthorizer(dir, pol)
	must(err)
	accs, err := auth.OpenAccounts(dir)
	must(err)
	az.SetExtraSuperUsers(accs.IsAdmin)
	setup(az, accs)

	ns := nameserver.New(nameserver.Config{Logger: log})
	nsSrv, nsStop, err := nameserver.Listen(ctx, "127.0.0.1:0", ns)
	must(err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = nsStop(sctx)
	})
	c := &aclCluster{nsAddr: nsSrv.Addr().String(), ns: ns, brokerAddr: freeAddr(t), kafkaAddr: freeAddr(t), az: az, accs: accs}
	store, err := storage.Open(ctx, storage.Config{Dir: dir + "/store", SegmentSize: 8 << 20, Logger: log})
	must(err)
	t.Cleanup(func() { _ = store.Close() })
	c.reg, err = topics.Open(ctx, store, log)
	must(err)
	t.Cleanup(c.reg.Close)
	offs, err := offsets.Open(ctx, store, log)
	must(err)
	t.Cleanup(offs.Close)
	coord, err := groups.Open(ctx, store, offs, groups.CoordinatorConfig{InitialRebalanceDelay: -1, Logger: log})
	must(err)
	t.Cleanup(coord.Close)
	b, err := remotingapi.New(remotingapi.Config{AdvertisedAddr: c.brokerAddr, NamesrvAddrs: []string{c.nsAddr}, Logger: log,
		Accounts: accs, Authorizer: az}, store, c.reg, offs)
	must(err)
	id, stopID, err := broker.LoadIdentity(ctx, store, -1, log)
	must(err)
	t.Cleanup(stopID)
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log, Groups: coord,
		Authorizer: az}, store, c.reg)
	must(err)
	stops := serveBoth(t, c.brokerAddr, c.kafkaAddr, b, h, log)
	t.Cleanup(func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	})
	waitFor(t, 5*time.Second, func() bool {
		rt, ok := ns.Table().Route("TBW102")
		return ok && len(rt.BrokerDatas) > 0
	})
	return c
}

// createTopic makes topic exist (4 queues) and routable.
func (c *aclCluster) createTopic(t *testing.T, topic string) {
	t.Helper()
	if _, err := c.reg.Create(context.Background(), topics.Config{Name: topic, Queues: 4}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { _, ok := c.ns.Table().Route(topic); return ok })
}
