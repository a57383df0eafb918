package kafkaapi_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/storage"
)

// TestWriteTxnMarkers sends WriteTxnMarkers (27) raw, as another broker
// group's coordinator does: a marker is written to a partition this
// broker leads; another group's partition gets NOT_LEADER_OR_FOLLOWER, an
// unknown one UNKNOWN_TOPIC_OR_PARTITION, an epoch older than the one a
// marker already raised INVALID_PRODUCER_EPOCH, no producer id
// INVALID_REQUEST, and from an address that is no other group's master
// every partition gets CLUSTER_AUTHORIZATION_FAILED. Only the accepted
// markers are in the log.
func TestWriteTxnMarkers(t *testing.T) {
	var peer atomic.Value // the other group's master host
	peer.Store("127.0.0.1")
	view := func() *cluster.View {
		return &cluster.View{Self: "b1", Cluster: "C", Groups: []cluster.Group{
			{Name: "b1", HasNode: true, Master: cluster.Node{NodeID: 1, Host: "127.0.0.1", Port: 1}},
			{Name: "b2", HasNode: true, Master: cluster.Node{NodeID: 2, Host: peer.Load().(string), Port: 1},
				Remoting: peer.Load().(string) + ":1"},
		}, Topics: map[string][]cluster.Placement{"wm": {{Group: "b2", Queues: 2}}}}
	}
	b := startBrokerWith(t, brokerOpts{groups: true, cluster: view})
	b.createTopic(t, "wm", 2) // partitions 0-1 here, 2-3 on b2
	rc := dial(t, b.addr)
	write := func(pid int64, epoch int16, topic string, parts ...int32) []int16 {
		t.Helper()
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		req.Version = 1
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, true
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = topic, parts
		m.Topics = append(m.Topics, mt)
		req.Markers = append(req.Markers, m)
		resp := rc.roundTrip(req).(*kmsg.WriteTxnMarkersResponse)
		var codes []int16
		for _, p := range resp.Markers[0].Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		return codes
	}
	end := func(q int32) int64 {
		t.Helper()
		n, err := b.store.MaxOffset("wm", q)
		if errors.Is(err, storage.ErrQueueNotFound) { // nothing was ever written there
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const (
		none, unknown, notLeader, staleEpoch, invalid, clusterAuth = 0, 3, 6, 47, 42, 31
	)
	for _, c := range []struct {
		name  string
		pid   int64
		epoch int16
		topic string
		parts []int32
		want  []int16
	}{
		{"own, other group's, out of range", 500, 3, "wm", []int32{0, 2, 9}, []int16{none, notLeader, unknown}},
		{"unknown topic", 500, 3, "nope", []int32{0}, []int16{unknown}},
		{"older epoch than the last marker", 500, 2, "wm", []int32{0}, []int16{staleEpoch}},
		{"no producer", -1, 0, "wm", []int32{1}, []int16{invalid}},
	} {
		if got := write(c.pid, c.epoch, c.topic, c.parts...); !slices.Equal(got, c.want) {
			t.Errorf("%s: codes %v, want %v", c.name, got, c.want)
		}
	}
	if e0, e1 := end(0), end(1); e0 != 1 || e1 != 0 {
		t.Fatalf("end offsets %d, %d: want the one accepted marker", e0, e1)
	}
	peer.Store("127.0.0.2") // the client is no other group's master now
	if got := write(501, 0, "wm", 0, 1); !slices.Equal(got, []int16{clusterAuth, clusterAuth}) {
		t.Errorf("from a client: codes %v", got)
	}
	if e0, e1 := end(0), end(1); e0 != 1 || e1 != 0 {
		t.Fatalf("end offsets after a client's markers: %d, %d", e0, e1)
	}
}
