package kafkaapi

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersions answers key 18 with every served key at min version 0
// (librdkafka <= 2.11 enables compression, groups and idempotence only if
// version 0 overlaps). Versions above ours
// never reach here: OnFrame answers them with KIP-511's v0 body.
func (h *Handler) apiVersions(r *request, req *kmsg.ApiVersionsRequest) {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	keys := make([]int16, 0, len(h.apis))
	for k := range h.apis {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, 0, h.apis[k].max
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	if h.share != nil {
		// KIP-932: Java clients use share groups only with the share.version
		// feature finalized at 1 (franz-go looks at the keys' versions).
		resp.SupportedFeatures = append(resp.SupportedFeatures,
			kmsg.ApiVersionsResponseSupportedFeature{Name: "share.version", MinVersion: 0, MaxVersion: 1})
		resp.FinalizedFeaturesEpoch = 1
		resp.FinalizedFeatures = append(resp.FinalizedFeatures,
			kmsg.ApiVersionsResponseFinalizedFeature{Name: "share.version", MinVersionLevel: 1, MaxVersionLevel: 1})
	}
	if h.transactional() {
		// KIP-584: franz-go (and Kafka's own clients) run KIP-890 part 2
		// only when the cluster finalizes transaction.version 2; without
		// it they keep the classic protocol (EndTxn v4, explicit
		// AddPartitionsToTxn and AddOffsetsToTxn). The epoch is constant:
		// the level never changes while the broker runs.
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = "transaction.version", 0, transactionVersion
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "transaction.version", transactionVersion, transactionVersion
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = 1
	}
	r.reply(resp)
}
