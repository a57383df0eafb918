package kafkaapi

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeClientQuotas answers key 48 (KIP-546). Without a quota store
// (Config.Quotas) a valid filter matches nothing: an empty list and no
// error; with one, quotas.go answers. A filter Kafka would reject gets
// INVALID_REQUEST as there (ClientQuotaManager's validation): an unknown
// match type, an exact match without a name, or a type named twice.
func (h *Handler) describeClientQuotas(r *request, req *kmsg.DescribeClientQuotasRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	seen := map[string]bool{}
	for _, c := range req.Components {
		var bad string
		switch {
		case c.MatchType > 2 || c.MatchType < 0:
			bad = fmt.Sprintf("unknown match type %d", c.MatchType)
		case c.MatchType == 0 && c.Match == nil:
			bad = fmt.Sprintf("exact match of %q without a name", c.EntityType)
		case seen[c.EntityType]:
			bad = fmt.Sprintf("duplicate filter component entity type %q", c.EntityType)
		}
		if bad != "" {
			resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp(bad)
			break
		}
		seen[c.EntityType] = true
	}
	if h.cfg.Quotas != nil && resp.ErrorCode == errNone {
		h.describeQuotas(r, req, resp) // quotas.go
		return
	}
	r.reply(resp)
}
