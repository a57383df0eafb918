package kafkaapi

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/txn"
)

// describeTransactions answers key 65 (KIP-664): each transactional id's
// state, producer, timeout, start and partitions; an unknown id gets
// TRANSACTIONAL_ID_NOT_FOUND.
func (h *Handler) describeTransactions(r *request, req *kmsg.DescribeTransactionsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		m, ok := h.cfg.Transactions.Describe(id)
		if !ok {
			st.ErrorCode, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = errTransactionalIDNotFound, -1, -1, -1
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State, st.TimeoutMillis, st.ProducerID, st.ProducerEpoch = m.State.String(), m.TimeoutMs, m.ProducerID, m.Epoch
		st.StartTimestamp = -1
		if m.State == txn.Ongoing || m.State == txn.PrepareCommit || m.State == txn.PrepareAbort {
			st.StartTimestamp = m.StartMs
		}
		st.Topics = h.txnTopics(m.Partitions)
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	r.reply(resp)
}

// txnTopics groups partitions (sorted by topic) by topic, numbered as
// Kafka partitions (across broker groups).
func (h *Handler) txnTopics(parts []txn.Partition) []kmsg.DescribeTransactionsResponseTransactionStateTopic {
	var out []kmsg.DescribeTransactionsResponseTransactionStateTopic
	for _, p := range parts {
		if n := len(out); n == 0 || out[n-1].Topic != p.Topic {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic = p.Topic
			out = append(out, t)
		}
		kp, ok := h.kafkaPartition(p)
		if !ok {
			continue
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, kp)
	}
	slices.SortFunc(out, func(a, b kmsg.DescribeTransactionsResponseTransactionStateTopic) int {
		return cmp.Compare(a.Topic, b.Topic)
	})
	for i := range out {
		slices.Sort(out[i].Partitions)
	}
	return out
}
