package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeCluster answers key 60 (KIP-700): this broker, which is also
// the controller, and the other broker groups' masters. Only the broker endpoint type (1) is served.
func (h *Handler) describeCluster(r *request, req *kmsg.DescribeClusterRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp("only broker endpoints are served")
		r.reply(resp)
		return
	}
	v := h.view()
	for _, mb := range h.metadataBrokers(r.conn, v) { // every broker group's master
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port = mb.NodeID, mb.Host, mb.Port
		resp.Brokers = append(resp.Brokers, b)
	}
	resp.ClusterID, resp.ControllerID = h.clusterID(v), h.cfg.NodeID
	resp.EndpointType = 1
	r.reply(resp)
}
