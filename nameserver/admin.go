package nameserver

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Admin request codes of the name server that mqadmin and
// rocketmq-dashboard send (RequestCode.java, DefaultRequestProcessor.java).
const (
	putKVConfig              int32 = 100 // PUT_KV_CONFIG
	getKVConfig              int32 = 101 // GET_KV_CONFIG
	deleteKVConfig           int32 = 102 // DELETE_KV_CONFIG
	getKVListByNamespace     int32 = 219 // GET_KVLIST_BY_NAMESPACE
	getTopicsByCluster       int32 = 224 // GET_TOPICS_BY_CLUSTER
	getSystemTopicListFromNS int32 = 304 // GET_SYSTEM_TOPIC_LIST_FROM_NS
	getNamesrvConfig         int32 = 319 // GET_NAMESRV_CONFIG
	maxKVConfigEntries             = 1 << 16
	maxKVConfigBytes               = 1 << 20
)

// adminHandlers are the admin codes' entries of the dispatch table.
func (s *Server) adminHandlers() map[int32]handlerFunc {
	return map[int32]handlerFunc{
		putKVConfig:              s.putKVConfig,
		getKVConfig:              s.getKVConfig,
		deleteKVConfig:           s.deleteKVConfig,
		getKVListByNamespace:     s.getKVListByNamespace,
		getTopicsByCluster:       s.getTopicsByCluster,
		getSystemTopicListFromNS: s.getSystemTopicList,
		getNamesrvConfig:         s.getNamesrvConfig,
	}
}

// kvConfig is the name server's KV config (KVConfigManager.java):
// namespace -> key -> value, which mqadmin updateKvConfig writes and
// updateOrderConf uses for ORDER_TOPIC_CONFIG. With a path
// (Server.LoadKVConfig) every change is written to kvConfig.json before
// it is answered, as Java persists it; without one it lives in memory.
// mu guards table, entries, bytes and the file; entries and bytes bound
// the table.
type kvConfig struct {
	mu      sync.Mutex
	table   map[string]map[string]string
	entries int
	bytes   int
	path    string // kvConfig.json, or "" (kvstore.go)
}

// errKVFull is put's answer when the table is at its bounds.
var errKVFull = errors.New("the KV config is full")

// put sets namespace/key and writes the table. The table is full
// (errKVFull) past its bounds; a failed write leaves it as it was.
func (kv *kvConfig) put(ns, key, value string) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.table == nil {
		kv.table = make(map[string]map[string]string)
	}
	old, had := kv.table[ns][key]
	size := kv.bytes - len(old) + len(value)
	if !had {
		size += len(ns) + len(key)
	}
	if (!had && kv.entries >= maxKVConfigEntries) || size > maxKVConfigBytes {
		return errKVFull
	}
	if had && old == value {
		return nil
	}
	if kv.table[ns] == nil {
		kv.table[ns] = make(map[string]string)
	}
	kv.table[ns][key] = value
	if err := kv.persistLocked(); err != nil {
		if had {
			kv.table[ns][key] = old
		} else {
			kv.removeLocked(ns, key)
		}
		return err
	}
	kv.bytes = size
	if !had {
		kv.entries++
	}
	return nil
}

func (kv *kvConfig) get(ns, key string) (string, bool) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.table[ns][key]
	return v, ok
}

// delete removes namespace/key and writes the table; a failed write
// leaves it as it was.
func (kv *kvConfig) delete(ns, key string) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.table[ns][key]
	if !ok {
		return nil
	}
	kv.removeLocked(ns, key)
	if err := kv.persistLocked(); err != nil {
		if kv.table[ns] == nil {
			kv.table[ns] = make(map[string]string)
		}
		kv.table[ns][key] = v
		return err
	}
	kv.entries--
	kv.bytes -= len(ns) + len(key) + len(v)
	return nil
}

// removeLocked drops namespace/key from the table, and the namespace with
// its last key; the counts are the caller's.
func (kv *kvConfig) removeLocked(ns, key string) {
	delete(kv.table[ns], key)
	if len(kv.table[ns]) == 0 {
		delete(kv.table, ns)
	}
}

func (kv *kvConfig) list(ns string) map[string]string {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return maps.Clone(kv.table[ns])
}

// putKVConfig (100): namespace, key, value.
func (s *Server) putKVConfig(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	f := req.ExtFields
	ns, okNS := f["namespace"]
	key, okKey := f["key"]
	if !okNS || !okKey {
		return remoting.NewResponse(req, remoting.SystemError, "namespace or key is null")
	}
	if err := s.kv.put(ns, key, f["value"]); err != nil {
		if !errors.Is(err, errKVFull) {
			s.log.Error("KV config not written", "namespace", ns, "key", key, "err", err)
		}
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	s.log.Info("KV config put", "namespace", ns, "key", key)
	return remoting.NewResponse(req, remoting.Success, "")
}

// getKVConfig (101): the value in the response header's "value";
// QUERY_NOT_FOUND when there is none.
func (s *Server) getKVConfig(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	ns, key := req.ExtFields["namespace"], req.ExtFields["key"]
	v, ok := s.kv.get(ns, key)
	if !ok {
		return remoting.NewResponse(req, remoting.QueryNotFound, "No config item, Namespace: "+ns+" Key: "+key)
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields["value"] = v
	return resp
}

// deleteKVConfig (102).
func (s *Server) deleteKVConfig(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	if err := s.kv.delete(req.ExtFields["namespace"], req.ExtFields["key"]); err != nil {
		s.log.Error("KV config not written", "namespace", req.ExtFields["namespace"], "key", req.ExtFields["key"], "err", err)
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// getKVListByNamespace (219): KVTable.java, {"table":{key:value}};
// QUERY_NOT_FOUND for an empty namespace.
func (s *Server) getKVListByNamespace(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	ns := req.ExtFields["namespace"]
	m := s.kv.list(ns)
	if len(m) == 0 {
		return remoting.NewResponse(req, remoting.QueryNotFound, "No config item, Namespace: "+ns)
	}
	return jsonResponse(req, map[string]map[string]string{"table": m})
}

// getTopicsByCluster (224): TopicList.java, the topics with queues on a
// broker group of cluster (mqadmin topicList -c, the console's topic page).
func (s *Server) getTopicsByCluster(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	names := s.table.ClusterInfo().ClusterAddrTable[req.ExtFields["cluster"]]
	out := []string{}
	for _, topic := range s.table.Topics() {
		r, ok := s.table.Route(topic)
		if !ok {
			continue
		}
		if slices.ContainsFunc(r.QueueDatas, func(q QueueData) bool { return slices.Contains(names, q.BrokerName) }) {
			out = append(out, topic)
		}
	}
	return jsonResponse(req, TopicList{TopicList: out})
}

// getSystemTopicList (304): the cluster names and broker-group names,
// which Java counts as system topics, and the address of one broker
// (TopicList.brokerAddr), as RouteInfoManager.getSystemTopicList.
func (s *Server) getSystemTopicList(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	ci := s.table.ClusterInfo()
	var list []string
	for _, c := range slices.Sorted(maps.Keys(ci.ClusterAddrTable)) {
		list = append(list, c)
		list = append(list, ci.ClusterAddrTable[c]...)
	}
	body := struct {
		TopicList  []string `json:"topicList"`
		BrokerAddr string   `json:"brokerAddr,omitempty"`
	}{TopicList: slices.Compact(list)}
	if body.TopicList == nil {
		body.TopicList = []string{}
	}
	for _, name := range slices.Sorted(maps.Keys(ci.BrokerAddrTable)) {
		addrs := ci.BrokerAddrTable[name].BrokerAddrs
		if len(addrs) > 0 {
			body.BrokerAddr = addrs[slices.Min(slices.Collect(maps.Keys(addrs)))]
			break
		}
	}
	return jsonResponse(req, body)
}

// getNamesrvConfig (319): the name server's settings as Java's
// Configuration.getAllConfigsFormatString writes them ("key=value" lines,
// what mqadmin getNamesrvConfig prints): the ones twinmq has.
func (s *Server) getNamesrvConfig(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	props := map[string]string{
		"scanNotActiveBrokerInterval": itoa(s.cfg.ScanInterval.Milliseconds()),
		"brokerChannelMaxIdleMillis":  itoa(s.cfg.BrokerTTL.Milliseconds()),
		"enableTopicList":             "true",
		"orderMessageEnable":          "false",
		"registrationSecretSet":       boolString(s.cfg.RegistrationSecret != ""),
	}
	var sb strings.Builder
	for _, k := range slices.Sorted(maps.Keys(props)) {
		sb.WriteString(k + "=" + props[k] + "\n")
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = []byte(sb.String())
	return resp
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
