package httpapi

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// residentMemoryMetric splits the process's resident memory by kind
// (issue 19): the standard process_resident_memory_bytes adds the mapped
// CommitLog and ConsumeQueue pages the kernel keeps resident (file-backed,
// reclaimable page cache) to the Go heap and stacks (anonymous), so a
// broker that had written 8 GB looked like it held 8 GB. Linux reports the
// parts in /proc/self/status (RssAnon, RssFile, RssShmem; Linux 4.5+);
// elsewhere the family has no series.
const residentMemoryMetric = "twinmq_process_resident_memory_bytes"

// residentMemory reads the parts of the resident memory from
// /proc/self/status.
func residentMemory() []Sample {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	return parseResidentMemory(b)
}

// rssKinds maps /proc/<pid>/status fields to the metric's kind label.
var rssKinds = []struct{ field, kind string }{
	{"RssAnon:", "anon"}, {"RssFile:", "file"}, {"RssShmem:", "shmem"},
}

// parseResidentMemory reads the Rss* lines ("RssAnon:    1234 kB") of a
// /proc/<pid>/status file.
func parseResidentMemory(status []byte) []Sample {
	var out []Sample
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 3 || !bytes.Equal(f[2], []byte("kB")) {
			continue
		}
		for _, k := range rssKinds {
			if string(f[0]) != k.field {
				continue
			}
			if kb, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil && kb >= 0 {
				out = append(out, Sample{Labels: []string{"kind", k.kind}, Value: float64(kb) * 1024})
			}
		}
	}
	return out
}
