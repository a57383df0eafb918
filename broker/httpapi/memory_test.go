package httpapi

import (
	"fmt"
	"testing"
)

func TestParseResidentMemory(t *testing.T) {
	status := []byte("Name:\ttwinmq\nVmRSS:\t  9000 kB\nRssAnon:\t    1234 kB\nRssFile:\t  8000 kB\nRssShmem:\t       0 kB\nThreads:\t12\nRssBad:\tx kB\n")
	got := fmt.Sprint(parseResidentMemory(status))
	want := fmt.Sprint([]Sample{
		{Labels: []string{"kind", "anon"}, Value: 1234 * 1024},
		{Labels: []string{"kind", "file"}, Value: 8000 * 1024},
		{Labels: []string{"kind", "shmem"}, Value: 0},
	})
	if got != want {
		t.Fatalf("parsed %s, want %s", got, want)
	}
	if s := parseResidentMemory([]byte("RssAnon: 12\nRssFile: -5 kB\n")); len(s) != 0 {
		t.Fatalf("malformed lines gave %v", s)
	}
}
