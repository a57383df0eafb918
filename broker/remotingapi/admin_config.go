package remotingapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// updateBrokerConfig is RequestCode.UPDATE_BROKER_CONFIG.
const updateBrokerConfig int32 = 25

// startOnlySettings names, for each key GET_BROKER_CONFIG reports, how to
// change it in twinmq: every one is read at start, none can change while
// the broker runs.
var startOnlySettings = map[string]string{
	"brokerClusterName":     "restart with --broker-cluster-name",
	"brokerName":            "restart with --broker-name",
	"brokerId":              "restart with --broker-id (or let the controller assign it)",
	"brokerRole":            "restart with --broker-role (or let the controller assign it)",
	"brokerIP1":             "restart with --advertised-host",
	"listenPort":            "restart with --remoting-addr",
	"namesrvAddr":           "restart with --namesrv-addr",
	"autoCreateTopicEnable": "not settable for RocketMQ clients yet (TBW102 auto-creation is on)",
	"defaultTopicQueueNums": "not settable yet (4 queues)",
	"maxMessageSize":        "not settable yet (4 MiB)",
	"flushDiskType":         "restart with --flush-disk-type (flushIntervalCommitLog can change at run time)",
	"fileReservedTime":      "restart with --retention-hours (or set retention.ms per topic: twinmq topic alter -c)",
}

// configBlackList are the keys Java's AdminBrokerProcessor refuses with
// NO_PERMISSION.
var configBlackList = []string{"brokerConfigPath", "rocketmqHome", "configBlackList"}

// maxConfigBody bounds an UPDATE_BROKER_CONFIG body.
const maxConfigBody = 64 << 10

// ConfigUpdater changes the settings that may change while the broker
// runs (cmd/twinmq's dynamic settings): Dynamic reports whether it knows
// key (twinmq's, Kafka's or RocketMQ's name), Update validates and
// applies set, all or nothing, and keeps it across restarts.
type ConfigUpdater interface {
	Dynamic(key string) bool
	Update(ctx context.Context, set map[string]string) error
}

// SetConfigUpdater makes UPDATE_BROKER_CONFIG change the keys u knows.
func (b *Broker) SetConfigUpdater(u ConfigUpdater) { b.updater.Store(&u) }

// updateBrokerConfigHandler (25) is `mqadmin updateBrokerConfig` and
// `twinmq broker config set`: a body of Java Properties ("key=value"
// lines). The keys a ConfigUpdater knows (flushIntervalCommitLog,
// logLevel ...) are changed at once and kept across restarts; any other
// key refuses the whole request with SYSTEM_ERROR and a remark that says,
// per key, how to change it (or that the key is unknown): nothing is
// changed then. An empty body is SUCCESS, as Java answers.
func (b *Broker) updateBrokerConfigHandler(ctx context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	if len(req.Body) > maxConfigBody {
		return remoting.NewResponse(req, remoting.SystemError, "string2Properties error: body too large")
	}
	props := parseProperties(req.Body)
	if len(props) == 0 {
		return remoting.NewResponse(req, remoting.Success, "")
	}
	for _, k := range configBlackList {
		if _, ok := props[k]; ok {
			// As Java since CVE-2023-33246: these keys once let a caller
			// run commands through the broker's filter-server start-up.
			return remoting.NewResponse(req, remoting.NoPermission, "Can not update config in black list.")
		}
	}
	var u ConfigUpdater
	if p := b.updater.Load(); p != nil {
		u = *p
	}
	var why []string
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if u != nil && u.Dynamic(k) {
			continue
		}
		if how, ok := startOnlySettings[k]; ok {
			why = append(why, fmt.Sprintf("%s cannot change while the broker runs: %s", k, how))
		} else {
			why = append(why, k+" is not a twinmq broker setting")
		}
	}
	if len(why) == 0 { // every key is dynamic
		if err := u.Update(ctx, props); err != nil {
			return remoting.NewResponse(req, remoting.SystemError, "twinmq changed nothing: "+err.Error())
		}
		b.log.Info("broker config updated", "keys", slices.Sorted(maps.Keys(props)))
		return remoting.NewResponse(req, remoting.Success, "")
	}
	b.log.Info("broker config update refused", "keys", len(props))
	return remoting.NewResponse(req, remoting.SystemError, "twinmq changed nothing: "+strings.Join(why, "; "))
}

// parseProperties reads Java Properties text: "key=value" (or "key:
// value") lines, '#' and '!' comments, blank lines. Line continuations
// and escapes, which MixAll.properties2String never writes for these
// values, are not interpreted.
func parseProperties(b []byte) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxConfigBody)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			m[line] = ""
			continue
		}
		m[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return m
}
