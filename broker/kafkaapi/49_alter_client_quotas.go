package kafkaapi

import "github.com/twmb/franz-go/pkg/kmsg"

// alterClientQuotas answers key 49 (KIP-546). With a quota store
// (Config.Quotas) quotas.go stores them. Without one it refuses every
// entry with INVALID_REQUEST: storing quotas it would not enforce would
// let an operator believe a producer is throttled. Nothing is stored,
// with or without ValidateOnly.
func (h *Handler) alterClientQuotas(r *request, req *kmsg.AlterClientQuotasRequest) {
	if h.cfg.Quotas != nil {
		h.alterQuotas(r, req) // quotas.go
		return
	}
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	for _, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		re.ErrorCode, re.ErrorMessage = errInvalidRequest, strp("twinmq does not enforce client quotas; nothing was stored")
		for _, c := range e.Entity {
			ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = c.Type, c.Name
			re.Entity = append(re.Entity, ent)
		}
		resp.Entries = append(resp.Entries, re)
	}
	r.reply(resp)
}
