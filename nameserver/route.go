package nameserver

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadBody marks a request body that cannot be decoded.
var ErrBadBody = errors.New("nameserver: bad request body")

// Permission bits of a topic (PermName.java, docs/rocketmq-protocol.md §2.2).
const (
	PermPriority int32 = 8
	PermRead     int32 = 4
	PermWrite    int32 = 2
	PermInherit  int32 = 1
)

// QueueData is one broker group's queues of a topic (QueueData.java).
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
}

// BrokerData is one broker group: brokerId 0 is the master (BrokerData.java).
// encoding/json writes the int64 map keys quoted and sorted, which is what
// every client parses (see the package doc).
type BrokerData struct {
	Cluster            string           `json:"cluster"`
	BrokerName         string           `json:"brokerName"`
	BrokerAddrs        map[int64]string `json:"brokerAddrs"`
	EnableActingMaster bool             `json:"enableActingMaster"`
}

// TopicRouteData is the route of one topic (TopicRouteData.java).
type TopicRouteData struct {
	OrderTopicConf    string              `json:"orderTopicConf,omitempty"`
	QueueDatas        []QueueData         `json:"queueDatas"`
	BrokerDatas       []BrokerData        `json:"brokerDatas"`
	FilterServerTable map[string][]string `json:"filterServerTable"`
}

// ClusterInfo is the body of GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

// ClusterView is the body of GetClusterView (twinmq's own): the groups
// of one cluster, sorted by name, and each topic's placements in that
// order. Brokers number Kafka partitions by it (package broker/cluster).
type ClusterView struct {
	Groups []ViewGroup                `json:"groups"`
	Topics map[string][]ViewPlacement `json:"topics"`
}

// ViewGroup is one broker group and its live master, if any.
type ViewGroup struct {
	Name           string  `json:"name"`
	MasterAddr     string  `json:"masterAddr,omitempty"`
	MasterEpoch    int32   `json:"masterEpoch,omitempty"`
	KafkaAddr      string  `json:"kafkaAddr,omitempty"`
	KafkaNodeID    int32   `json:"kafkaNodeId"`
	KafkaClusterID string  `json:"kafkaClusterId,omitempty"`
	KafkaReplicas  []int32 `json:"kafkaReplicas,omitempty"`
	KafkaISR       []int32 `json:"kafkaIsr,omitempty"`
	KafkaRack      string  `json:"kafkaRack,omitempty"`
	Members        int     `json:"members"`
	// Followers are the group's live slaves that registered a Kafka
	// listener (follower fetch, KIP-392), by broker id.
	Followers []ViewFollower `json:"followers,omitempty"`
}

// ViewFollower is a slave's Kafka listener.
type ViewFollower struct {
	BrokerID    int64  `json:"brokerId"`
	KafkaAddr   string `json:"kafkaAddr"`
	KafkaNodeID int32  `json:"kafkaNodeId"`
	KafkaRack   string `json:"kafkaRack,omitempty"`
}

// ViewPlacement is a group's queues of a topic.
type ViewPlacement struct {
	Group  string `json:"group"`
	Queues int32  `json:"queues"`
}

// TopicList is the body of GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
type TopicList struct {
	TopicList []string `json:"topicList"`
}

// TopicConfig is a broker's configuration of one topic as it travels in
// REGISTER_BROKER (TopicConfig.java). It is also what the broker answers to
// GET_ALL_TOPIC_CONFIG.
type TopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int32             `json:"readQueueNums"`
	WriteQueueNums  int32             `json:"writeQueueNums"`
	Perm            int32             `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"`
	TopicSysFlag    int32             `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes"`
}

// DataVersion versions a broker's configuration (DataVersion.java).
type DataVersion struct {
	StateVersion int64 `json:"stateVersion"`
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
}

// TopicConfigWrapper is TopicConfigSerializeWrapper.java.
type TopicConfigWrapper struct {
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
	DataVersion      DataVersion            `json:"dataVersion"`
}

// RegisterBody is RegisterBrokerBody.java, uncompressed.
type RegisterBody struct {
	TopicConfigSerializeWrapper TopicConfigWrapper `json:"topicConfigSerializeWrapper"`
	FilterServerList            []string           `json:"filterServerList"`
}

// maxTopicsPerBroker bounds the topic table of one registration.
const maxTopicsPerBroker = 1 << 20

// DecodeRegisterBody decodes a REGISTER_BROKER body. An empty body is an
// empty topic table (a Java slave may send one). Topics whose name is empty
// or whose queue counts are out of range are rejected, so the route table
// holds only what clients can use.
func DecodeRegisterBody(b []byte) (RegisterBody, error) {
	var body RegisterBody
	if len(b) == 0 {
		return body, nil
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return RegisterBody{}, fmt.Errorf("%w: register body: %v", ErrBadBody, err)
	}
	t := body.TopicConfigSerializeWrapper.TopicConfigTable
	if len(t) > maxTopicsPerBroker {
		return RegisterBody{}, fmt.Errorf("%w: %d topics", ErrBadBody, len(t))
	}
	for name, tc := range t {
		if tc.TopicName == "" {
			tc.TopicName = name
			t[name] = tc
		}
		if name == "" || tc.TopicName != name || !validQueueNums(tc.ReadQueueNums) || !validQueueNums(tc.WriteQueueNums) {
			return RegisterBody{}, fmt.Errorf("%w: topic %q: name %q, queues %d/%d",
				ErrBadBody, name, tc.TopicName, tc.ReadQueueNums, tc.WriteQueueNums)
		}
	}
	return body, nil
}

// validQueueNums bounds queue counts as Java's TopicValidator does not, but
// a route must: clients allocate per queue.
func validQueueNums(n int32) bool { return n >= 0 && n <= 1<<16 }

// EncodeRegisterBody encodes the REGISTER_BROKER body for topics.
func EncodeRegisterBody(topics map[string]TopicConfig, v DataVersion) []byte {
	if topics == nil {
		topics = map[string]TopicConfig{}
	}
	b, _ := json.Marshal(RegisterBody{ // cannot fail: plain types only
		TopicConfigSerializeWrapper: TopicConfigWrapper{TopicConfigTable: topics, DataVersion: v},
		FilterServerList:            []string{},
	})
	return b
}
