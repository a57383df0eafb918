package controller

import (
	"testing"

	"github.com/twinmq/twinmq/wire/remoting"
)

// FuzzRequestHeaders: every request decoder of the remoting adapter,
// given any remoting command, returns a value or an error and never
// panics; a decoded AlterSyncStateSet has a sorted set without duplicates.
func FuzzRequestHeaders(f *testing.F) {
	seed := func(code int32, ext map[string]string, body string) {
		req := remoting.NewRequest(code, 1)
		req.ExtFields, req.Body = ext, []byte(body)
		f.Add(remoting.AppendCommand(nil, req)[4:])
	}
	seed(CodeControllerAlterSyncStateSet, map[string]string{"brokerName": "b", "masterBrokerId": "1", "masterEpoch": "1"},
		`{"syncStateSet":[2,1,2],"syncStateSetEpoch":3}`)
	seed(CodeBrokerHeartbeat, map[string]string{"clusterName": "C", "brokerName": "b", "brokerAddr": "a:1", "brokerId": "1",
		"epoch": "2", "maxOffset": "9", "heartbeatTimeoutMills": "1000"}, "")
	seed(CodeCleanBrokerData, map[string]string{"brokerName": "b", "brokerControllerIdsToClean": "1;2", "isCleanLivingBroker": "true"}, "")
	seed(CodeControllerApplyBrokerID, map[string]string{"brokerName": "b", "appliedBrokerId": "1", "registerCheckCode": "a:1;5"}, "")
	seed(CodeControllerGetSyncStateData, nil, `["b"]`)
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := remoting.Decode(frame)
		if err != nil {
			return
		}
		if a, err := decodeAlterSyncStateSet(req); err == nil {
			if len(setIDs(a.SyncStateSet)) != len(a.SyncStateSet) {
				t.Fatalf("set not normalized: %v", a.SyncStateSet)
			}
		}
		_, _ = decodeHeartbeat(req)
		_, _ = decodeElectMaster(req)
		_, _ = decodeCleanBrokerData(req)
		_, _ = decodeApplyBrokerID(req)
		_, _ = decodeRegisterBroker(req)
		_, _, _ = decodeGetNextBrokerID(req)
		_, _ = decodeGetReplicaInfo(req)
		_, _ = decodeGetSyncStateData(req)
		_, _ = replicaInfo(req)
	})
}
