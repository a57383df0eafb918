// Package nameserver is twinmq's RocketMQ name server: a route table fed by
// brokers (REGISTER_BROKER every 30 s, expiry after 120 s of silence or when
// the registering connection closes) and read by clients
// (GET_ROUTEINFO_BY_TOPIC every 30 s per topic). Several name servers run
// independently; every broker registers with all of them (docs/design.md section 6).
// Facts cite docs/rocketmq-protocol.md ("spec") by section.
//
// [Table] is the state, with no goroutines, no I/O and an injected clock;
// [Server] is the netio.Handler that decodes commands and drives the table
// and its expiry timer; [Client] is the small remoting client a broker uses
// to register (and tests use to ask).
//
// # JSON bodies, layout version 1 (docs/rocketmq-protocol.md §2.2, §2.3)
//
// TopicRouteData, the body of a GET_ROUTEINFO_BY_TOPIC (105) response, is
// compact JSON in this key order. The Go client does not parse brokerAddrs
// as JSON: it splits the raw object text on ',' and the first ':' and strips
// '"', so the map keys are quoted broker ids and no whitespace appears:
//
//	{"queueDatas":[{"brokerName":"broker-a","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}],
//	 "brokerDatas":[{"cluster":"DefaultCluster","brokerName":"broker-a","brokerAddrs":{"0":"127.0.0.1:10911"},"enableActingMaster":false}],
//	 "filterServerTable":{}}
//
// (one line on the wire; "orderTopicConf" appears only when set).
//
// RegisterBrokerBody, the body of REGISTER_BROKER (103), uncompressed form
// (Java's default compressedRegister=false; the compressed form is refused
// with SYSTEM_ERROR):
//
//	{"topicConfigSerializeWrapper":{"topicConfigTable":{"<topic>":{"topicName":"<topic>",
//	  "readQueueNums":4,"writeQueueNums":4,"perm":6,"topicFilterType":"SINGLE_TAG",
//	  "topicSysFlag":0,"order":false,"attributes":{}}},"dataVersion":{...}},"filterServerList":[]}
//
// ClusterInfo, the body of GET_BROKER_CLUSTER_INFO (106):
//
//	{"brokerAddrTable":{"broker-a":<BrokerData>},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}
//
// TopicList, the body of GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206):
//
//	{"topicList":["a","b"]}
package nameserver
