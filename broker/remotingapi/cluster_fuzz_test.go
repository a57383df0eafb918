package remotingapi

import (
	"encoding/json"
	"testing"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/nameserver"
)

// FuzzClusterView: whatever a name server answers GetClusterView with,
// the view built from it never panics, and its partition map stays
// within the queue counts it carries.
func FuzzClusterView(f *testing.F) {
	f.Add([]byte(`{"groups":[{"name":"b1","masterAddr":"10.0.0.1:10911","kafkaAddr":"10.0.0.1:9092","kafkaNodeId":5,"members":2},` +
		`{"name":"b2","kafkaAddr":"bad"}],"topics":{"T":[{"group":"b1","queues":3},{"group":"b2","queues":-4}],"TBW102":[{"group":"b1","queues":8}]}}`))
	f.Add([]byte(`{"groups":null,"topics":{"":[]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var cv nameserver.ClusterView
		if json.Unmarshal(body, &cv) != nil {
			return
		}
		v := viewOf(cv)
		v.Self = "b1"
		for name := range v.Topics {
			ps := v.Placements(name, 2)
			n := cluster.Count(ps)
			for p := int32(-1); p <= n && p < 64; p++ {
				loc, ok := cluster.Locate(ps, p)
				if ok && (loc.Queue < 0 || p < 0 || p >= n) {
					t.Fatalf("partition %d of %d located at %+v", p, n, loc)
				}
			}
		}
		_, _ = v.Coordinator("g")
	})
}
