package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteRecords answers key 21: it moves a partition's log start offset
// forward (offset -1 means the high watermark). Records below it read as
// out of range; the bytes go with CommitLog retention.
func (h *Handler) deleteRecords(r *request, req *kmsg.DeleteRecordsRequest) {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		cfg, code := h.lookupTopic(t.Topic, [16]byte{}, false)
		for _, p := range t.Partitions {
			rp := kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.LowWatermark = p.Partition, -1
			q, c := int32(0), code
			if c == errNone {
				q, c = h.localQueue(cfg, p.Partition)
			}
			rp.ErrorCode = c
			if c == errNone {
				rp.LowWatermark, rp.ErrorCode = h.deleteRecordsBefore(cfg.Name, cfg.Queues, q, p.Offset)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.reply(resp)
}

func (h *Handler) deleteRecordsBefore(topic string, queues, part int32, offset int64) (int64, int16) {
	if part < 0 || part >= queues {
		return -1, errUnknownTopicOrPartition
	}
	min, hwm, err := h.queueRange(topic, part)
	if err != nil {
		return -1, codeOf(err)
	}
	if offset == -1 {
		offset = hwm
	}
	if offset < 0 || offset > hwm {
		return -1, errOffsetOutOfRange
	}
	if offset <= min {
		return min, errNone
	}
	if err := h.store.SetMinOffset(topic, part, offset); err != nil {
		return -1, codeOf(err)
	}
	return offset, errNone
}
