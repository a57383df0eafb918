package kafkaapi_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/netio"
)

// principalsByHost stands in for authentication (TLS, SASL): a
// connection from one of its IPs gets that principal.
type principalsByHost struct {
	*kafkaapi.Handler
	byIP map[string]auth.Principal
}

func (p principalsByHost) OnOpen(c *netio.Conn) {
	p.Handler.OnOpen(c)
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if pr, ok := p.byIP[a.IP.String()]; ok {
			kafkaapi.SetConnPrincipal(c, pr)
		}
	}
}

// Who connects from where in the authorization tests.
const (
	adminIP = "127.0.0.2"
	aliceIP = "127.0.0.3"
	bobIP   = "127.0.0.4"
)

func startAuthzBroker(t *testing.T, pol auth.Policy) *testBroker {
	t.Helper()
	az, err := auth.OpenAuthorizer(t.TempDir(), pol)
	if err != nil {
		t.Fatal(err)
	}
	b := startBrokerWith(t, brokerOpts{groups: true, authz: az, principals: map[string]auth.Principal{
		adminIP: auth.User("admin"), aliceIP: auth.User("alice"), bobIP: auth.User("bob"),
	}})
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	b.h.SetAdvertised(host, int32(p))
	return b
}

// clientFrom is a franz-go client whose connections come from ip.
func clientFrom(t *testing.T, addr, ip string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.Dialer(d.DialContext),
		kgo.RetryTimeout(3 * time.Second), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestAuthzKafgoEndToEnd(t *testing.T) {
	b := startAuthzBroker(t, auth.Policy{SuperUsers: []auth.Principal{auth.User("admin")}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := kadm.NewClient(clientFrom(t, b.addr, adminIP))
	for _, topic := range []string{"orders", "app-x", "app-secret", "other"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	acls := kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpRead, kadm.OpWrite).
		Groups("g1").ResourcePatternType(kadm.ACLPatternLiteral)
	prefixed := kadm.NewACLs().Allow("User:alice").Topics("app-").Operations(kadm.OpWrite).
		ResourcePatternType(kadm.ACLPatternPrefixed)
	denied := kadm.NewACLs().Deny("User:alice").Topics("app-secret").Operations(kadm.OpWrite).
		ResourcePatternType(kadm.ACLPatternLiteral)
	for _, a := range []*kadm.ACLBuilder{acls, prefixed, denied} {
		res, err := admin.CreateACLs(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create acl %+v: %v", r, r.Err)
			}
		}
	}

	alice := clientFrom(t, b.addr, aliceIP, kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableIdempotentWrite())
	for _, tc := range []struct {
		topic string
		want  error
	}{
		{"orders", nil},
		{"app-x", nil},
		{"app-secret", kerr.TopicAuthorizationFailed},
		{"other", kerr.TopicAuthorizationFailed},
	} {
		err := alice.ProduceSync(ctx, &kgo.Record{Topic: tc.topic, Value: []byte("v")}).FirstErr()
		if !errors.Is(err, tc.want) {
			t.Errorf("alice produce to %s: %v, want %v", tc.topic, err, tc.want)
		}
	}
	fs := alice.PollRecords(ctx, 1)
	if errs := fs.Errors(); len(errs) > 0 || fs.NumRecords() != 1 {
		t.Fatalf("alice consume orders in g1: %d records, %v", fs.NumRecords(), errs)
	}
	if err := alice.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("alice commit in g1: %v", err)
	}

	// Group g2 is not hers: joining it fails with GROUP_AUTHORIZATION_FAILED.
	g2 := clientFrom(t, b.addr, aliceIP, kgo.ConsumerGroup("g2"), kgo.ConsumeTopics("orders"))
	fs = g2.PollFetches(ctx)
	if err := fs.Err0(); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("alice joining g2: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}

	// Metadata for every topic shows only what she may describe.
	aliceAdm := kadm.NewClient(clientFrom(t, b.addr, aliceIP))
	md, err := aliceAdm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Topics.Names(); !slices.Equal(got, []string{"app-secret", "app-x", "orders"}) {
		t.Errorf("alice sees %v, want [app-secret app-x orders] (app-secret: a Write deny does not deny Describe)", got)
	}
	bobAdm := kadm.NewClient(clientFrom(t, b.addr, bobIP))
	md, err = bobAdm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Topics.Names(); len(got) != 0 {
		t.Errorf("bob sees %v, want nothing", got)
	}
	// A named topic she may not describe: TOPIC_AUTHORIZATION_FAILED.
	// (kadm turns the topic's error into the call's.)
	md, err = bobAdm.Metadata(ctx, "orders")
	if got := md.Topics["orders"].Err; !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(got, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob's metadata of orders: %v / %v", err, got)
	}

	// KIP-430: the operations she may do on orders (Read, Write and the
	// Describe they imply) and what the admin may do on the cluster.
	rc := dialFrom(t, b.addr, aliceIP)
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version, mreq.IncludeTopicAuthorizedOperations = 12, true
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("orders")
	mreq.Topics = append(mreq.Topics, mt)
	mresp := rc.roundTrip(mreq).(*kmsg.MetadataResponse)
	if want := int32(1<<3 | 1<<4 | 1<<8); len(mresp.Topics) != 1 || mresp.Topics[0].AuthorizedOperations != want {
		t.Errorf("alice's operations on orders: %+v, want %b", mresp.Topics, want)
	}
	dcr := kmsg.NewPtrDescribeClusterRequest()
	dcr.IncludeClusterAuthorizedOperations = true
	if got := dialFrom(t, b.addr, adminIP).roundTrip(dcr).(*kmsg.DescribeClusterResponse); got.ClusterAuthorizedOperations != 1<<5|1<<7|1<<8|1<<9|1<<10|1<<11|1<<12 {
		t.Errorf("admin's cluster operations: %b", got.ClusterAuthorizedOperations)
	}

	// Admin keys: deleting or creating topics, creating ACLs.
	del, err := aliceAdm.DeleteTopics(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if got := del["orders"].Err; !errors.Is(got, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice deleting orders: %v", got)
	}
	cr, err := aliceAdm.CreateTopic(ctx, 1, 1, nil, "fresh")
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(cr.Err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice creating a topic: %v / %v", err, cr.Err)
	}
	res, err := aliceAdm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("other").Operations(kadm.OpAll).
		ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("alice creating an acl: %+v", res)
	}

	// Transactional and idempotent producers.
	txp := clientFrom(t, b.addr, aliceIP, kgo.TransactionalID("tx-alice"))
	err = txp.BeginTransaction() // kgo initializes its producer id here
	if err == nil {
		err = txp.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("t")}).FirstErr()
	}
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		t.Errorf("alice's transactional produce: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
	}
	// bob may see orders but write nowhere: his idempotent producer's
	// InitProducerId is refused.
	if res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:bob").Topics("orders").
		Operations(kadm.OpDescribe).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	bob := clientFrom(t, b.addr, bobIP)
	err = bob.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("b")}).FirstErr()
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("bob's idempotent produce: %v, want CLUSTER_AUTHORIZATION_FAILED (InitProducerId)", err)
	}

	// DescribeAcls shows the set; DeleteAcls removes alice's Write on
	// orders, after which her produce is refused.
	desc, err := admin.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range desc {
		n += len(d.Described)
	}
	if n != 7 {
		t.Errorf("described %d acls, want 7 (the builder crossed Read,Write with orders and g1): %+v", n, desc)
	}
	dres, err := admin.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("orders").
		Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	if len(dres) != 1 || len(dres[0].Deleted) != 1 {
		t.Fatalf("deleted %+v", dres)
	}
	err = alice.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice produce after the delete: %v", err)
	}
}

// TestAuthzRawKeys checks keys one request at a time: what an
// unauthorized principal gets, where in the response.
func TestAuthzRawKeys(t *testing.T) {
	b := startAuthzBroker(t, auth.Policy{})
	b.createTopic(t, "t", 2)
	c := dialFrom(t, b.addr, bobIP)

	prod := kmsg.NewPtrProduceRequest()
	prod.Acks, prod.TimeoutMillis = 1, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pt.Partitions = append(pt.Partitions, pp)
	prod.Topics = append(prod.Topics, pt)
	prod.SetVersion(9)
	presp := c.roundTrip(prod).(*kmsg.ProduceResponse)
	if len(presp.Topics) != 1 || presp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("produce: %+v", presp.Topics)
	}

	fetch := kmsg.NewPtrFetchRequest()
	fetch.ReplicaID, fetch.MaxBytes = -1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fetch.SetVersion(11)
	fresp := c.roundTrip(fetch).(*kmsg.FetchResponse)
	if len(fresp.Topics) != 1 || fresp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("fetch: %+v", fresp.Topics)
	}
	fetch.ReplicaID = 2 // a follower's fetch needs ClusterAction
	fresp = c.roundTrip(fetch).(*kmsg.FetchResponse)
	if fresp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("follower fetch: %d", fresp.ErrorCode)
	}

	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "g", -1
	oct := kmsg.NewOffsetCommitRequestTopic()
	oct.Topic = "t"
	ocp := kmsg.NewOffsetCommitRequestTopicPartition()
	oct.Partitions = append(oct.Partitions, ocp)
	oc.Topics = append(oc.Topics, oct)
	oc.SetVersion(8)
	ocresp := c.roundTrip(oc).(*kmsg.OffsetCommitResponse)
	if len(ocresp.Topics) != 1 || ocresp.Topics[0].Partitions[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("offset commit: %+v", ocresp.Topics)
	}

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "g"
	of.SetVersion(5)
	ofresp := c.roundTrip(of).(*kmsg.OffsetFetchResponse)
	if ofresp.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("offset fetch v5: %d", ofresp.ErrorCode)
	}
	of.SetVersion(8)
	og := kmsg.NewOffsetFetchRequestGroup()
	og.Group = "g"
	of.Groups = append(of.Groups, og)
	ofresp = c.roundTrip(of).(*kmsg.OffsetFetchResponse)
	if len(ofresp.Groups) != 1 || ofresp.Groups[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("offset fetch v8: %+v", ofresp.Groups)
	}

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"g"}
	fc.SetVersion(4)
	fcresp := c.roundTrip(fc).(*kmsg.FindCoordinatorResponse)
	if len(fcresp.Coordinators) != 1 || fcresp.Coordinators[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Errorf("find coordinator: %+v", fcresp.Coordinators)
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "t"}, {kmsg.ConfigResourceTypeBroker, "1"}} {
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = r.typ, r.name
		dc.Resources = append(dc.Resources, res)
	}
	dcresp := c.roundTrip(dc).(*kmsg.DescribeConfigsResponse)
	codes := map[kmsg.ConfigResourceType]int16{}
	for _, r := range dcresp.Resources {
		codes[r.ResourceType] = r.ErrorCode
	}
	if codes[kmsg.ConfigResourceTypeTopic] != kerr.TopicAuthorizationFailed.Code ||
		codes[kmsg.ConfigResourceTypeBroker] != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("describe configs: %v", codes)
	}

	dl := kmsg.NewPtrDescribeLogDirsRequest()
	dl.SetVersion(3)
	if got := c.roundTrip(dl).(*kmsg.DescribeLogDirsResponse); got.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("describe log dirs: %d", got.ErrorCode)
	}
	da := kmsg.NewPtrDescribeACLsRequest()
	da.ResourceType, da.ResourcePatternType, da.Operation, da.PermissionType = 1, 1, 1, 1
	if got := c.roundTrip(da).(*kmsg.DescribeACLsResponse); got.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("describe acls: %d", got.ErrorCode)
	}
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID = kmsg.StringPtr("x")
	if got := c.roundTrip(ip).(*kmsg.InitProducerIDResponse); got.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Errorf("init producer id: %d", got.ErrorCode)
	}
	// ApiVersions is served to anyone.
	if got := c.roundTrip(kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse); got.ErrorCode != 0 {
		t.Errorf("api versions: %d", got.ErrorCode)
	}
}

// TestAuthzAllowEveryoneIfNoACL: with allow.everyone.if.no.acl.found a
// topic with no ACL is open; one ACL on it closes it to the others.
func TestAuthzAllowEveryoneIfNoACL(t *testing.T) {
	b := startAuthzBroker(t, auth.Policy{AllowEveryoneIfNoACLFound: true})
	b.createTopic(t, "open", 1)
	b.createTopic(t, "closed", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := clientFrom(t, b.addr, bobIP)
	// bob may create ACLs: there is none on the cluster yet.
	res, err := kadm.NewClient(bob).CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("closed").
		Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || res[0].Err != nil {
		t.Fatalf("create acl: %v %+v", err, res)
	}
	if err := bob.ProduceSync(ctx, &kgo.Record{Topic: "open", Value: []byte("v")}).FirstErr(); err != nil {
		t.Errorf("bob to open: %v", err)
	}
	err = bob.ProduceSync(ctx, &kgo.Record{Topic: "closed", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("bob to closed: %v", err)
	}
	alice := clientFrom(t, b.addr, aliceIP)
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "closed", Value: []byte("v")}).FirstErr(); err != nil {
		t.Errorf("alice to closed: %v", err)
	}
}

// dialFrom is dial with the connection coming from ip.
func dialFrom(t *testing.T, addr, ip string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))}
}
