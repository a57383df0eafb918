package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
)

// describeProducers answers key 61 (KIP-664): each partition's active
// producers, from the idempotence state of the log's tail, with the first
// offset of the producer's open transaction there (-1: none), which is
// what an operator needs to find a hanging transaction.
func (h *Handler) describeProducers(r *request, req *kmsg.DescribeProducersRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		cfg, code := h.lookupTopic(t.Topic, [16]byte{}, false)
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			if code == errNone && (p < 0 || p >= cfg.Queues) {
				rp.ErrorCode = errUnknownTopicOrPartition
			}
			if rp.ErrorCode == errNone {
				rp.ErrorCode = h.activeProducers(log.PartKey{TopicID: cfg.ID, Queue: p}, cfg.Name, &rp)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}

func (h *Handler) activeProducers(k log.PartKey, topic string, rp *kmsg.DescribeProducersResponseTopicPartition) int16 {
	infos, err := h.producers.Describe(k, topic)
	if err != nil {
		return codeOf(err)
	}
	open, err := h.txns.Open(k, topic)
	if err != nil {
		return codeOf(err)
	}
	for _, in := range infos {
		ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
		ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.LastTimestamp = in.ProducerID, int32(in.Epoch), in.LastSequence, in.LastTimestamp
		ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = 0, -1
		if first, ok := open[in.ProducerID]; ok {
			ap.CurrentTxnStartOffset = first
		}
		rp.ActiveProducers = append(rp.ActiveProducers, ap)
	}
	return errNone
}
