package remotingapi

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// GET_BROKER_RUNTIME_INFO (28) answers what RocketMQ's
// AdminBrokerProcessor.getBrokerRuntimeInfo answers: a KVTable, the JSON
// body {"table":{"key":"value",...}} with every value a string, read by
// mqadmin brokerStatus and clusterList, rocketmq-dashboard's cluster page
// and `twinmq cluster info`.
//
// Keys use RocketMQ's names (AdminBrokerProcessor.prepareRuntimeInfo and
// DefaultMessageStore.getRuntimeInfo) where twinmq has the same figure:
//
//	brokerVersionDesc, brokerVersion  the RocketMQ version twinmq speaks as
//	                                  (V5_3_3, 479; remoting.DefaultVersion)
//	bootTimestamp, runtime            when the broker started (unix ms), and
//	                                  its uptime as "[ d days, h hours, m minutes, s seconds ]"
//	commitLogMinOffset, commitLogMaxOffset
//	                                  the CommitLog's first retained byte and written end
//	dispatchBehindBytes               written end minus the dispatched end
//	                                  (bytes not yet in a ConsumeQueue)
//	msgPutTotalTodayNow               messages made readable since the store
//	                                  opened (storage.Stats.Records; RocketMQ:
//	                                  messages put since boot)
//	commitLogDirCapacity              "Total : 93.1 GiB, Free : 40.2 GiB." of the store's file system
//
// and twinmq adds the broker's identity, so that one answer says which
// member of which group it came from: brokerClusterName, brokerName,
// brokerId, brokerRole, brokerAddr (the advertised remoting address) and
// haServerAddr (the HA listener it registers; absent without one, as in
// `twinmq serve`). Config.RuntimeInfo adds the
// rest (cmd/twinmq: the replication state and twinmqVersion); its keys
// win over these. RocketMQ keys twinmq has no figure for (thread pool
// queues, putTps, msgGetTotal*, the day-boundary msgPut* snapshots) are
// absent rather than zero.
func (b *Broker) getBrokerRuntimeInfo(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	return jsonResponse(req, struct {
		Table map[string]string `json:"table"`
	}{b.runtimeInfo()})
}

// runtimeInfo is the table GET_BROKER_RUNTIME_INFO answers.
func (b *Broker) runtimeInfo() map[string]string {
	now := b.cfg.Now()
	st := b.store.Stats()
	minOff, written := b.store.LogRange()
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	t := map[string]string{
		"brokerVersionDesc":   "V5_3_3", // the MQVersion ordinal remoting.DefaultVersion names
		"brokerVersion":       strconv.Itoa(int(remoting.DefaultVersion)),
		"bootTimestamp":       i64(b.booted.UnixMilli()),
		"runtime":             formatRuntime(now.Sub(b.booted)),
		"commitLogMinOffset":  i64(minOff),
		"commitLogMaxOffset":  i64(written),
		"dispatchBehindBytes": i64(max(st.WrittenOffset-st.DispatchedOffset, 0)),
		"msgPutTotalTodayNow": i64(st.Records),
		"brokerClusterName":   b.cfg.ClusterName,
		"brokerName":          b.cfg.BrokerName,
		"brokerId":            i64(b.brokerID.Load()),
		"brokerRole":          b.cfg.BrokerRole,
		"brokerAddr":          b.storeHost.String(),
	}
	if b.cfg.HAAddr != "" {
		t["haServerAddr"] = b.cfg.HAAddr
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(b.store.Dir(), &fs); err == nil {
		bs := uint64(fs.Bsize)
		t["commitLogDirCapacity"] = fmt.Sprintf("Total : %s, Free : %s.",
			humanBytes(fs.Blocks*bs), humanBytes(fs.Bavail*bs))
	}
	if b.cfg.RuntimeInfo != nil {
		maps.Copy(t, b.cfg.RuntimeInfo())
	}
	return t
}

// formatRuntime is StoreStatsService.getFormatRuntime's uptime text.
func formatRuntime(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	return fmt.Sprintf("[ %d days, %d hours, %d minutes, %d seconds ]", s/86400, s/3600%24, s/60%60, s%60)
}

// humanBytes is MixAll.humanReadableByteCount(n, false): binary units
// with one decimal ("512 B", "1.5 KiB", "93.1 GiB").
func humanBytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	exp := int(math.Log(float64(n)) / math.Log(1024))
	exp = min(exp, 6)
	return fmt.Sprintf("%.1f %ciB", float64(n)/math.Pow(1024, float64(exp)), "KMGTPE"[exp-1])
}
