package kafkaapi

import (
	"regexp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/txn"
)

// listTransactions answers key 66 (KIP-664): the transactional ids, with
// Kafka's filters: states (unknown names are returned in
// UnknownStateFilters), producer ids, v1+ open for longer than
// DurationFilterMillis (KIP-994), v2+ ids matching a regular expression
// (KIP-1152; one that does not compile is INVALID_REQUEST).
func (h *Handler) listTransactions(r *request, req *kmsg.ListTransactionsRequest) {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	var states []txn.State
	for _, name := range req.StateFilters {
		if s, ok := txn.ParseState(name); ok {
			states = append(states, s)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
		}
	}
	var pattern *regexp.Regexp
	if req.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		var err error
		if pattern, err = regexp.Compile(*req.TransactionalIDPattern); err != nil {
			resp.ErrorCode = errInvalidRequest
			r.reply(resp)
			return
		}
	}
	now := h.cfg.Now().UnixMilli()
	for _, m := range h.cfg.Transactions.List() {
		switch {
		case len(req.StateFilters) > 0 && !slices.Contains(states, m.State):
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, m.ProducerID):
		case req.Version >= 1 && req.DurationFilterMillis >= 0 && (m.State != txn.Ongoing || now-m.StartMs < req.DurationFilterMillis):
		case pattern != nil && !pattern.MatchString(m.ID):
		default:
			st := kmsg.NewListTransactionsResponseTransactionState()
			st.TransactionalID, st.ProducerID, st.TransactionState = m.ID, m.ProducerID, m.State.String()
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
	}
	r.reply(resp)
}
