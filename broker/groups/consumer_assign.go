package groups

import (
	"maps"
	"slices"
)

// assignRange is the server-side "range" assignor: per topic, the members
// subscribed to it, sorted by id, get contiguous ranges; the first
// partitions%members members get one partition more (Kafka's RangeAssignor
// shape, so co-partitioned topics line up).
func assignRange(subs subscriptions) map[string]Assignment {
	out := make(map[string]Assignment, len(subs))
	byTopic := map[string][]string{}
	counts := map[string]int32{}
	for id, ts := range subs {
		out[id] = Assignment{}
		for t, n := range ts {
			byTopic[t] = append(byTopic[t], id)
			counts[t] = n
		}
	}
	for t, ids := range byTopic {
		slices.Sort(ids)
		n, k := counts[t], int32(len(ids))
		next := int32(0)
		for i, id := range ids {
			size := n / k
			if int32(i) < n%k {
				size++
			}
			for p := next; p < next+size; p++ {
				out[id][t] = append(out[id][t], p)
			}
			next += size
		}
	}
	return out
}

// assignUniform is the server-side "uniform" assignor: every member gets
// the same number of partitions, give or take one, among the topics it
// subscribes to, and keeps as many of its current partitions as that
// balance allows (sticky).
func assignUniform(subs subscriptions, prev map[string]Assignment) map[string]Assignment {
	ids := slices.Sorted(maps.Keys(subs))
	owner := map[tp]string{}
	count := make(map[string]int, len(ids))
	// Sticky pass: current owners keep what they still subscribe to.
	for _, id := range ids {
		for t, ps := range prev[id] {
			n, ok := subs[id][t]
			if !ok {
				continue
			}
			for _, p := range ps {
				k := tp{t, p}
				if _, taken := owner[k]; !taken && p < n {
					owner[k] = id
					count[id]++
				}
			}
		}
	}
	// The rest goes to the least loaded subscriber.
	for _, k := range allPartitions(subs) {
		if _, ok := owner[k]; ok {
			continue
		}
		best := ""
		for _, id := range ids {
			if _, ok := subs[id][k.topic]; ok && (best == "" || count[id] < count[best]) {
				best = id
			}
		}
		owner[k] = best
		count[best]++
	}
	balance(subs, ids, owner, count)
	out := make(map[string]Assignment, len(ids))
	for _, id := range ids {
		out[id] = Assignment{}
	}
	for _, k := range allPartitions(subs) {
		a := out[owner[k]]
		a[k.topic] = append(a[k.topic], k.partition)
	}
	return out
}

// balance moves partitions from the most to the least loaded eligible
// member while two counts differ by two or more; each move lowers the sum
// of squared counts, so it ends.
func balance(subs subscriptions, ids []string, owner map[tp]string, count map[string]int) {
	parts := allPartitions(subs)
	for moved := true; moved; {
		moved = false
		for i := len(parts) - 1; i >= 0 && !moved; i-- {
			k := parts[i]
			from := owner[k]
			for _, to := range ids {
				if _, ok := subs[to][k.topic]; ok && count[to]+2 <= count[from] {
					owner[k] = to
					count[from]--
					count[to]++
					moved = true
					break
				}
			}
		}
	}
}

// allPartitions lists every subscribed partition, sorted.
func allPartitions(subs subscriptions) []tp {
	counts := map[string]int32{}
	for _, ts := range subs {
		maps.Copy(counts, ts)
	}
	var out []tp
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		for p := range counts[t] {
			out = append(out, tp{t, p})
		}
	}
	return out
}
