package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeLogDirs answers key 35 with the store's one data directory. The
// store keeps no per-partition byte counts (one CommitLog holds every
// topic), so Size is the record count's share: 0 when unknown.
func (h *Handler) describeLogDirs(r *request, req *kmsg.DescribeLogDirsRequest) {
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, dir.TotalBytes, dir.UsableBytes = h.store.Dir(), -1, -1
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
