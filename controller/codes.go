package controller

// The one table of RocketMQ numbers this package speaks: request codes
// (RequestCode.java) and response codes (ResponseCode.java) of RocketMQ 5's
// controller. The pure state machine returns a Code; the remoting adapter
// (server.go) puts it on the wire unchanged.

// Request codes of the controller (RequestCode.java, RocketMQ 5.1+).
const (
	CodeBrokerHeartbeat             int32 = 904
	CodeControllerAlterSyncStateSet int32 = 1001
	CodeControllerElectMaster       int32 = 1002
	CodeControllerRegisterBroker    int32 = 1003
	CodeControllerGetReplicaInfo    int32 = 1004
	CodeControllerGetMetadataInfo   int32 = 1005
	CodeControllerGetSyncStateData  int32 = 1006
	CodeCleanBrokerData             int32 = 1011
	CodeControllerGetNextBrokerID   int32 = 1012
	CodeControllerApplyBrokerID     int32 = 1013
)

// RequestCodes lists every request code a Controller answers, for a host
// (the name server) that routes them to it.
var RequestCodes = []int32{
	CodeBrokerHeartbeat, CodeControllerAlterSyncStateSet, CodeControllerElectMaster,
	CodeControllerRegisterBroker, CodeControllerGetReplicaInfo, CodeControllerGetMetadataInfo,
	CodeControllerGetSyncStateData, CodeCleanBrokerData, CodeControllerGetNextBrokerID,
	CodeControllerApplyBrokerID,
}

// Code is a RocketMQ response code: the outcome of a step or a request.
type Code int32

// Response codes (RemotingSysResponseCode.java and ResponseCode.java).
const (
	Success                 Code = 0
	SystemError             Code = 1
	RequestCodeNotSupported Code = 3
	InvalidParameter        Code = 29

	ControllerFencedMasterEpoch          Code = 2000
	ControllerFencedSyncStateSetEpoch    Code = 2001
	ControllerInvalidMaster              Code = 2002
	ControllerInvalidReplicas            Code = 2003
	ControllerMasterNotAvailable         Code = 2004
	ControllerInvalidRequest             Code = 2005
	ControllerBrokerNotAlive             Code = 2006
	ControllerNotLeader                  Code = 2007
	ControllerBrokerMetadataNotExist     Code = 2008
	ControllerInvalidCleanBrokerMetadata Code = 2009
	ControllerBrokerNeedToBeRegistered   Code = 2010
	ControllerMasterStillExist           Code = 2011
	ControllerElectMasterFailed          Code = 2012
	ControllerAlterSyncStateSetFailed    Code = 2013
	ControllerBrokerIDInvalid            Code = 2014
	ControllerJraftInternalError         Code = 2015
	ControllerBrokerLiveInfoNotExists    Code = 2016
)

var codeNames = map[Code]string{
	Success: "SUCCESS", SystemError: "SYSTEM_ERROR", RequestCodeNotSupported: "REQUEST_CODE_NOT_SUPPORTED",
	InvalidParameter:                     "INVALID_PARAMETER",
	ControllerFencedMasterEpoch:          "CONTROLLER_FENCED_MASTER_EPOCH",
	ControllerFencedSyncStateSetEpoch:    "CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH",
	ControllerInvalidMaster:              "CONTROLLER_INVALID_MASTER",
	ControllerInvalidReplicas:            "CONTROLLER_INVALID_REPLICAS",
	ControllerMasterNotAvailable:         "CONTROLLER_MASTER_NOT_AVAILABLE",
	ControllerInvalidRequest:             "CONTROLLER_INVALID_REQUEST",
	ControllerBrokerNotAlive:             "CONTROLLER_BROKER_NOT_ALIVE",
	ControllerNotLeader:                  "CONTROLLER_NOT_LEADER",
	ControllerBrokerMetadataNotExist:     "CONTROLLER_BROKER_METADATA_NOT_EXIST",
	ControllerInvalidCleanBrokerMetadata: "CONTROLLER_INVALID_CLEAN_BROKER_METADATA",
	ControllerBrokerNeedToBeRegistered:   "CONTROLLER_BROKER_NEED_TO_BE_REGISTERED",
	ControllerMasterStillExist:           "CONTROLLER_MASTER_STILL_EXIST",
	ControllerElectMasterFailed:          "CONTROLLER_ELECT_MASTER_FAILED",
	ControllerAlterSyncStateSetFailed:    "CONTROLLER_ALTER_SYNC_STATE_SET_FAILED",
	ControllerBrokerIDInvalid:            "CONTROLLER_BROKER_ID_INVALID",
	ControllerJraftInternalError:         "CONTROLLER_JRAFT_INTERNAL_ERROR",
	ControllerBrokerLiveInfoNotExists:    "CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS",
}

// String is the ResponseCode.java name.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "CODE_" + itoa(int64(c))
}
