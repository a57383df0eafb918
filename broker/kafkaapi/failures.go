package kafkaapi

import (
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// failures counts the error codes the handler answers, by API key and
// code, as Kafka's RequestMetrics ErrorsPerSec{request, error} does: each
// error in a response counts once (a Produce or Fetch counts each failing
// partition; other APIs their top-level ErrorCode). NONE is not counted.
// Errors are rare next to requests, so a mutex and a map are enough.
type failures struct {
	// top is, by API key, the index of the response's top-level
	// ErrorCode field, -1 without one; read-only after newFailures.
	top []int

	mu     sync.Mutex // guards counts
	counts map[failureKey]int64
}

type failureKey struct{ key, code int16 }

// newFailures resolves each served key's top-level ErrorCode field once.
func newFailures(keys []int16) *failures {
	f := &failures{top: make([]int, slices.Max(keys)+1), counts: map[failureKey]int64{}}
	for i := range f.top {
		f.top[i] = -1
	}
	for _, k := range keys {
		resp := kmsg.ResponseForKey(k)
		if resp == nil {
			continue
		}
		t := reflect.TypeOf(resp).Elem()
		if sf, ok := t.FieldByName("ErrorCode"); ok && sf.Type.Kind() == reflect.Int16 && len(sf.Index) == 1 {
			f.top[k] = sf.Index[0]
		}
	}
	return f
}

// add counts one answer of code to key.
func (f *failures) add(key, code int16) {
	if code == errNone {
		return
	}
	f.mu.Lock()
	f.counts[failureKey{key, code}]++
	f.mu.Unlock()
}

// count counts the errors in resp, an answer to key.
func (f *failures) count(key int16, resp kmsg.Response) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for _, p := range r.Topics[i].Partitions {
				f.add(key, p.ErrorCode)
			}
		}
		return
	case *kmsg.FetchResponse:
		f.add(key, r.ErrorCode)
		for i := range r.Topics {
			for _, p := range r.Topics[i].Partitions {
				f.add(key, p.ErrorCode)
			}
		}
		return
	}
	if key < 0 || int(key) >= len(f.top) || f.top[key] < 0 {
		return
	}
	v := reflect.ValueOf(resp)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	f.add(key, int16(v.Elem().Field(f.top[key]).Int()))
}

// Failures calls fn, by API key and then error code, with how many
// errors of that code the handler has answered to that API (for metrics).
func (h *Handler) Failures(fn func(key, code int16, n int64)) {
	h.failed.mu.Lock()
	counts := maps.Clone(h.failed.counts)
	h.failed.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b failureKey) int {
		if a.key != b.key {
			return int(a.key) - int(b.key)
		}
		return int(a.code) - int(b.code)
	})
	for _, k := range keys {
		fn(k.key, k.code, counts[k])
	}
}
