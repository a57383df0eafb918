package kafkaapi

import (
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterReplicaLogDirs answers key 34. The store has one data directory,
// which holds every partition (one CommitLog for all topics), so a move to
// that directory is already done (NONE, as Kafka answers a move to the
// current directory) and any other directory is LOG_DIR_NOT_FOUND, as
// Kafka answers a path that is not one of its log.dirs.
func (h *Handler) alterReplicaLogDirs(r *request, req *kmsg.AlterReplicaLogDirsRequest) {
	resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	ours := filepath.Clean(h.store.Dir())
	byTopic := map[string]int{} // topic -> index in resp.Topics
	for _, d := range req.Dirs {
		dirCode := errNone
		if filepath.Clean(d.Dir) != ours {
			dirCode = errLogDirNotFound
		}
		for _, t := range d.Topics {
			i, ok := byTopic[t.Topic]
			if !ok {
				i = len(resp.Topics)
				byTopic[t.Topic] = i
				rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
				rt.Topic = t.Topic
				resp.Topics = append(resp.Topics, rt)
			}
			for _, p := range t.Partitions {
				rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, dirCode
				if !h.partitionExists(t.Topic, p) {
					rp.ErrorCode = errUnknownTopicOrPartition
				}
				resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
			}
		}
	}
	r.reply(resp)
}

// partitionExists reports whether partition p of topic exists anywhere in
// the cluster (on this broker group or another).
func (h *Handler) partitionExists(topic string, p int32) bool {
	c, code := h.lookupTopic(topic, [16]byte{}, false)
	return code == errNone && p >= 0 && p < h.partitionCount(c)
}
