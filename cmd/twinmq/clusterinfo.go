package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// `twinmq cluster info`: the operator's view of the broker groups. It
// asks the name servers for GET_BROKER_CLUSTER_INFO (106), merges their
// answers (name servers do not share state, so one may miss a broker that
// could not reach it), then asks every broker for GET_BROKER_RUNTIME_INFO
// (28, runtimeinfo.go) at once. A broker that does not answer is a row
// that says so, not a failed command; only no name server answering is.

// clusterView is what `cluster info` prints; --format json prints it as is.
type clusterView struct {
	NameServers []nameServerView `json:"nameServers"`
	Clusters    []clusterEntry   `json:"clusters"`
}

type nameServerView struct {
	Addr  string `json:"addr"`
	Error string `json:"error,omitempty"` // why it did not answer
}

type clusterEntry struct {
	Name   string      `json:"name"`
	Groups []groupView `json:"brokerGroups"`
}

type groupView struct {
	BrokerName string       `json:"brokerName"`
	Members    []memberView `json:"members"`
}

// memberView is one broker of a group: what the name servers registered
// (id, address) and what it answered about itself.
type memberView struct {
	BrokerID int64  `json:"brokerId"`
	Addr     string `json:"addr"`
	Answered bool   `json:"answered"`
	Error    string `json:"error,omitempty"` // why it did not answer

	Role               string `json:"role,omitempty"`
	HAAddr             string `json:"haAddr,omitempty"`
	Version            string `json:"version,omitempty"`
	BootTimestamp      int64  `json:"bootTimestamp,omitempty"` // unix ms
	UptimeSeconds      int64  `json:"uptimeSeconds,omitempty"`
	CommitLogMinOffset int64  `json:"commitLogMinOffset"`
	CommitLogMaxOffset int64  `json:"commitLogMaxOffset"`

	// A master's slaves, and how many are in sync.
	Slaves       []haConnection `json:"slaves,omitempty"`
	InSyncSlaves *int           `json:"inSyncSlaves,omitempty"`
	// A slave's stream: its master's HA address, whether it streams now,
	// and how many bytes it is behind.
	MasterHAAddr string `json:"masterHaAddr,omitempty"`
	Connected    *bool  `json:"connected,omitempty"`
	LagBytes     *int64 `json:"lagBytes,omitempty"`
	LastError    string `json:"lastError,omitempty"`

	// Controller mode: the id the controller assigned, and on the master
	// its masterEpoch and the SyncStateSet it acknowledges with.
	ControllerBrokerID *int64  `json:"controllerBrokerId,omitempty"`
	MasterEpoch        *int32  `json:"masterEpoch,omitempty"`
	SyncStateSet       []int64 `json:"syncStateSet,omitempty"`
}

// newClusterCommand builds `twinmq cluster ...`; environ supplies
// TWINMQ_NAMESRV_ADDR as the default name servers.
func newClusterCommand(environ []string) *cobra.Command {
	cluster := markAdmin(groupCommand(&cobra.Command{Use: "cluster", Short: "See the cluster's broker groups (over the RocketMQ remoting protocol)"}))
	var nsAddr string
	var timeout time.Duration
	info := &cobra.Command{
		Use:   "info",
		Short: "Show every broker group: members, roles, addresses, versions, uptime, CommitLog range, replication",
		Long: "Asks the name servers for the brokers they know (GET_BROKER_CLUSTER_INFO), then\n" +
			"each broker for its state (GET_BROKER_RUNTIME_INFO). A master shows its slaves\n" +
			"and which are in sync; a slave shows whether it streams from its master and how\n" +
			"many bytes it is behind. A broker that does not answer is listed as such.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs := splitAddrs(nsAddr)
			if len(addrs) == 0 {
				return fmt.Errorf("%s: --namesrv-addr lists no name server", commandName(cmd))
			}
			v, err := gatherCluster(cmd.Context(), addrs, timeout, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return writeOutput(cmd, v, func(w io.Writer) error { return printCluster(w, v) })
		},
	}
	info.Flags().StringVar(&nsAddr, "namesrv-addr", "127.0.0.1:9876",
		"';'-separated name servers to ask (default: $TWINMQ_NAMESRV_ADDR, else 127.0.0.1:9876)")
	info.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for each name server and broker")
	cluster.AddCommand(info)
	return cluster
}

// lookupEnv finds key in environ ("KEY=value" entries).
func lookupEnv(environ []string, key string) (string, bool) {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// splitAddrs splits a ';'-separated address list, dropping blanks.
func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ";") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// gatherCluster asks the name servers nsAddrs, then every broker they
// list, each within timeout; now dates the uptimes.
func gatherCluster(ctx context.Context, nsAddrs []string, timeout time.Duration, now time.Time) (clusterView, error) {
	var v clusterView
	brokers := map[string]nameserver.BrokerData{} // by brokerName
	var errs []error
	for _, addr := range nsAddrs {
		var ci nameserver.ClusterInfo
		err := invokeJSON(ctx, addr, remoting.GetBrokerClusterInfo, timeout, &ci)
		nv := nameServerView{Addr: addr}
		if err != nil {
			nv.Error = err.Error()
			errs = append(errs, err)
		}
		v.NameServers = append(v.NameServers, nv)
		for name, bd := range ci.BrokerAddrTable {
			merged, ok := brokers[name]
			if !ok {
				merged = nameserver.BrokerData{Cluster: bd.Cluster, BrokerName: name, BrokerAddrs: map[int64]string{}}
			}
			maps.Copy(merged.BrokerAddrs, bd.BrokerAddrs)
			brokers[name] = merged
		}
	}
	if len(errs) == len(nsAddrs) {
		return v, fmt.Errorf("no name server answered: %w", errors.Join(errs...))
	}

	// Ask every broker at once: a dead one costs one timeout, not one each.
	byCluster := map[string][]groupView{}
	for _, name := range slices.Sorted(maps.Keys(brokers)) {
		bd := brokers[name]
		g := groupView{BrokerName: name}
		for _, id := range slices.Sorted(maps.Keys(bd.BrokerAddrs)) {
			g.Members = append(g.Members, memberView{BrokerID: id, Addr: bd.BrokerAddrs[id]})
		}
		byCluster[bd.Cluster] = append(byCluster[bd.Cluster], g)
	}
	for _, c := range slices.Sorted(maps.Keys(byCluster)) {
		v.Clusters = append(v.Clusters, clusterEntry{Name: c, Groups: byCluster[c]})
	}
	var wg sync.WaitGroup
	for ci := range v.Clusters {
		for gi := range v.Clusters[ci].Groups {
			for mi := range v.Clusters[ci].Groups[gi].Members {
				m := &v.Clusters[ci].Groups[gi].Members[mi]
				wg.Go(func() { m.ask(ctx, timeout, now) })
			}
		}
	}
	wg.Wait()
	return v, nil
}

// ask fills m with the broker's answer to GET_BROKER_RUNTIME_INFO, or
// the reason it gave none.
func (m *memberView) ask(ctx context.Context, timeout time.Duration, now time.Time) {
	var kv struct {
		Table map[string]string `json:"table"`
	}
	if err := invokeJSON(ctx, m.Addr, remoting.GetBrokerRuntimeInfo, timeout, &kv); err != nil {
		m.Error = err.Error()
		return
	}
	m.fill(kv.Table, now)
}

// invokeJSON sends a request of code to addr and decodes the JSON body of
// a SUCCESS answer into out.
func invokeJSON(ctx context.Context, addr string, code int32, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.Invoke(ctx, remoting.NewRequest(code, 0))
	if err != nil {
		return fmt.Errorf("%s: %s: %w", addr, remoting.RequestName(code), err)
	}
	if resp.Code != remoting.Success {
		return fmt.Errorf("%s: %s answered %s (%d): %s", addr, remoting.RequestName(code),
			remoting.ResponseName(resp.Code), resp.Code, resp.Remark)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("%s: %s: body: %w", addr, remoting.RequestName(code), err)
	}
	return nil
}

// fill sets m from a broker's runtime info table (twinmq's keys, or a
// RocketMQ broker's, which lack the replication ones).
func (m *memberView) fill(t map[string]string, now time.Time) {
	m.Answered = true
	i64 := func(k string) int64 { n, _ := strconv.ParseInt(t[k], 10, 64); return n }
	m.Role, m.HAAddr = t["brokerRole"], t["haServerAddr"]
	m.Version = cmp.Or(t["twinmqVersion"], t["brokerVersionDesc"])
	m.BootTimestamp = i64("bootTimestamp")
	if up, ok := parseRuntime(t["runtime"]); ok {
		m.UptimeSeconds = up
	} else if m.BootTimestamp > 0 {
		m.UptimeSeconds = max(now.UnixMilli()-m.BootTimestamp, 0) / 1000
	}
	m.CommitLogMinOffset, m.CommitLogMaxOffset = i64("commitLogMinOffset"), i64("commitLogMaxOffset")
	if s, ok := t["haConnectionInfo"]; ok {
		if err := json.Unmarshal([]byte(s), &m.Slaves); err != nil {
			m.LastError = "haConnectionInfo: " + err.Error()
		}
		n := int(i64("inSyncSlaveNums"))
		m.InSyncSlaves = &n
	}
	if s, ok := t["controllerBrokerId"]; ok {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			m.ControllerBrokerID = &id
		}
	}
	if s, ok := t["masterEpoch"]; ok {
		if e, err := strconv.ParseInt(s, 10, 32); err == nil {
			e32 := int32(e)
			m.MasterEpoch = &e32
		}
	}
	if s, ok := t["syncStateSet"]; ok {
		if err := json.Unmarshal([]byte(s), &m.SyncStateSet); err != nil {
			m.LastError = "syncStateSet: " + err.Error()
		}
	}
	if s, ok := t["haClientInfo"]; ok {
		var hc haClient
		if err := json.Unmarshal([]byte(s), &hc); err != nil {
			m.LastError = "haClientInfo: " + err.Error()
		} else {
			lag := i64("slaveFallBehindMuch")
			m.MasterHAAddr, m.Connected, m.LagBytes, m.LastError = hc.MasterAddr, &hc.IsActivated, &lag, hc.LastError
		}
	}
}

// parseRuntime reads StoreStatsService's "[ d days, h hours, m minutes,
// s seconds ]" as seconds.
func parseRuntime(s string) (int64, bool) {
	var d, h, m, sec int64
	if _, err := fmt.Sscanf(s, "[ %d days, %d hours, %d minutes, %d seconds ]", &d, &h, &m, &sec); err != nil {
		return 0, false
	}
	return ((d*24+h)*60+m)*60 + sec, true
}

// printCluster writes v as one table row per broker, then the name
// servers that did not answer.
func printCluster(w io.Writer, v clusterView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tBROKER\tID\tROLE\tADDR\tHA ADDR\tVERSION\tUPTIME\tCOMMITLOG\tREPLICATION")
	for _, c := range v.Clusters {
		for _, g := range c.Groups {
			for _, m := range g.Members {
				if !m.Answered {
					fmt.Fprintf(tw, "%s\t%s\t%d\t-\t%s\t-\t-\t-\t-\tnot answering: %s\n", c.Name, g.BrokerName, m.BrokerID, m.Addr, m.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d-%d\t%s\n", c.Name, g.BrokerName, m.BrokerID,
					orDash(m.Role), m.Addr, orDash(m.HAAddr), orDash(m.Version),
					time.Duration(m.UptimeSeconds)*time.Second, m.CommitLogMinOffset, m.CommitLogMaxOffset, m.replication())
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Clusters) == 0 {
		fmt.Fprintln(w, "no broker registered")
	}
	for _, ns := range v.NameServers {
		if ns.Error != "" {
			fmt.Fprintf(w, "name server %s did not answer: %s\n", ns.Addr, ns.Error)
		}
	}
	return nil
}

// replication is the REPLICATION column: a master's in-sync slaves and
// each slave's lag, or a slave's stream.
func (m memberView) replication() string {
	switch {
	case m.InSyncSlaves != nil:
		if len(m.Slaves) == 0 {
			return "no slave connected"
		}
		parts := make([]string, len(m.Slaves))
		for i, s := range m.Slaves {
			state := "in sync"
			if !s.InSync {
				state = "not in sync"
			}
			parts[i] = fmt.Sprintf("id %d: %s, lag %d B", s.BrokerID, state, s.Diff)
		}
		out := fmt.Sprintf("%d/%d slaves in sync (%s)", *m.InSyncSlaves, len(m.Slaves), strings.Join(parts, "; "))
		if m.MasterEpoch != nil {
			out = fmt.Sprintf("epoch %d, SyncStateSet %v; %s", *m.MasterEpoch, m.SyncStateSet, out)
		}
		return out
	case m.Connected != nil:
		if !*m.Connected {
			s := "not connected to master " + orDash(m.MasterHAAddr)
			if m.LastError != "" {
				s += ": " + m.LastError
			}
			return s
		}
		return fmt.Sprintf("streaming from %s, lag %d B", m.MasterHAAddr, *m.LagBytes)
	}
	return "-"
}

func orDash(s string) string { return cmp.Or(s, "-") }
