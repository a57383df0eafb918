package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"
)

// describeLogDirs answers key 35 with the store's one data directory and
// its file system's total and usable bytes (v4+). A partition's Size is
// the bytes of the entries between its start and end offsets as stored
// (Kafka batches as produced, RocketMQ messages in their stored encoding),
// without the CommitLog entry headers and ConsumeQueue units (topics.Sizes):
// one CommitLog holds every topic, so there is no per-partition file to
// measure, and the bytes below a moved start stay on disk until the store
// deletes their segment. OffsetLag is 0 (this broker is every leader).
func (h *Handler) describeLogDirs(r *request, req *kmsg.DescribeLogDirsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, dir.TotalBytes, dir.UsableBytes = h.store.Dir(), -1, -1
	var fs unix.Statfs_t
	if err := unix.Statfs(h.store.Dir(), &fs); err == nil {
		dir.TotalBytes = int64(fs.Blocks) * fs.Bsize
		dir.UsableBytes = int64(fs.Bavail) * fs.Bsize
	}
	want := map[string][]int32{}
	all := req.Topics == nil
	for _, t := range req.Topics {
		want[t.Topic] = t.Partitions
	}
	for _, c := range h.reg.List() {
		parts, ok := want[c.Name]
		if !all && !ok {
			continue
		}
		dt := kmsg.NewDescribeLogDirsResponseDirTopic()
		dt.Topic = c.Name
		for p := int32(0); p < c.Queues; p++ {
			if !all && !containsPart(parts, p) {
				continue
			}
			dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			dp.Partition = p
			size, err := h.sizes.Bytes(c.Name, p)
			if err != nil {
				h.log.Warn("kafkaapi: partition size", "topic", c.Name, "partition", p, "err", err)
			}
			dp.Size = size
			dt.Partitions = append(dt.Partitions, dp)
		}
		dir.Topics = append(dir.Topics, dt)
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	r.reply(resp)
}

func containsPart(parts []int32, p int32) bool {
	for _, x := range parts {
		if x == p {
			return true
		}
	}
	return false
}
