package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeCluster answers key 60 (KIP-700): this broker, which is also
// the controller. Only the broker endpoint type (1) is served.
func (h *Handler) describeCluster(r *request, req *kmsg.DescribeClusterRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp("only broker endpoints are served")
		r.reply(resp)
		return
	}
	host, port := h.advertisedAddr()
	b := kmsg.NewDescribeClusterResponseBroker()
	b.NodeID, b.Host, b.Port = h.cfg.NodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{b}
	resp.ClusterID, resp.ControllerID = h.cfg.ClusterID, h.cfg.NodeID
	resp.EndpointType = 1
	r.reply(resp)
}
