package kafkaapi

import (
	"context"
	"net"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// writeTxnMarkers answers key 27, which a transaction coordinator sends
// to a partition leader: write each marker (COMMIT or ABORT of producer
// id and epoch) to each of its partitions. In a cluster of several broker
// groups the coordinator of a transaction that wrote to this group's
// partitions sends it here (txn_peer.go). Only another group's master may
// send it (Kafka requires ClusterAction): from any other address every
// partition gets CLUSTER_AUTHORIZATION_FAILED and nothing is written. A
// partition this broker does not lead gets NOT_LEADER_OR_FOLLOWER (another
// group's) or UNKNOWN_TOPIC_OR_PARTITION, a marker of an epoch older than
// the producer's INVALID_PRODUCER_EPOCH (a newer producer took over, its
// own markers end what the old one left), a failed write the storage
// error's code; the coordinator retries until every partition answers
// NONE.
func (h *Handler) writeTxnMarkers(r *request, req *kmsg.WriteTxnMarkersRequest) {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	ctx, cancel := requestContext(0)
	defer cancel()
	broker := h.fromBroker(ctx, r)
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			cfg, tcode := h.lookupTopic(t.Topic, [16]byte{}, false)
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = p
				q, code := int32(0), tcode
				if code == errNone {
					q, code = h.localQueue(cfg, p)
				}
				switch {
				case !broker:
					code = errClusterAuthorization
				case code != errNone:
				case m.ProducerID < 0 || m.ProducerEpoch < 0:
					code = errInvalidRequest
				default:
					stale, err := h.writeMarker(ctx, cfg, q, m.ProducerID, m.ProducerEpoch, m.Committed)
					switch {
					case err != nil:
						h.log.Warn("kafkaapi: WriteTxnMarkers", "topic", t.Topic, "partition", p, "err", err)
						code = codeOf(err)
					case stale:
						code = errInvalidProducerEpoch
					}
				}
				rp.ErrorCode = code
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	r.reply(resp)
}

// fromBroker reports whether r comes from the address of another broker
// group's master in the cluster view (its Kafka host or its remoting
// host, a host name resolved; the coordinator sends from its own
// advertised host, txn_peer.go). Without other groups no broker ever
// sends one here.
func (h *Handler) fromBroker(ctx context.Context, r *request) bool {
	v := h.view()
	if v == nil || r.conn == nil || r.conn.RemoteAddr() == nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.conn.RemoteAddr().String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, g := range v.Groups {
		if g.Name == v.Self {
			continue
		}
		if g.HasNode && slices.ContainsFunc(hostIPs(ctx, g.Master.Host), ip.Equal) {
			return true
		}
		if rh, _, err := net.SplitHostPort(g.Remoting); err == nil && slices.ContainsFunc(hostIPs(ctx, rh), ip.Equal) {
			return true
		}
	}
	return false
}

// hostIPs is host's addresses: host itself when it is one, else what the
// resolver answers (nothing on an error).
func hostIPs(ctx context.Context, host string) []net.IP {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips
}
