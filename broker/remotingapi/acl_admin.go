package remotingapi

import (
	"context"
	"slices"
	"strings"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// RocketMQ's ACL admin requests (AdminBrokerProcessor, ACL 1.0: what
// mqadmin updateAclConfig, deleteAclConfig and updateGlobalWhiteAddr
// send), served with aclEnable and only to admin accounts (acl.go).
// Accounts are named by their access key here. An account's topicPerms
// and groupPerms ("t1=PUB,t2=SUB|PUB") become ACLs of User:<accessKey>,
// added to the ACL store shared with Kafka (auth.PermACLs).
const (
	updateAndCreateACLConfig     int32 = 50 // UPDATE_AND_CREATE_ACL_CONFIG
	deleteACLConfig              int32 = 51 // DELETE_ACL_CONFIG
	updateGlobalWhiteAddrsConfig int32 = 53 // UPDATE_GLOBAL_WHITE_ADDRS_CONFIG

	updateAndCreateACLConfigFailed     int32 = 209 // UPDATE_AND_CREATE_ACL_CONFIG_FAILED
	deleteACLConfigFailed              int32 = 210 // DELETE_ACL_CONFIG_FAILED
	updateGlobalWhiteAddrsConfigFailed int32 = 211 // UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED
)

const aclOff = "the broker's ACL is off (aclEnable)"

// splitList splits RocketMQ's comma-joined lists, dropping empty items.
func splitList(s string) []string {
	return slices.DeleteFunc(strings.Split(s, ","), func(x string) bool { return strings.TrimSpace(x) == "" })
}

func (b *Broker) updateAndCreateACLConfig(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	if b.cfg.Accounts == nil {
		return remoting.NewResponse(req, updateAndCreateACLConfigFailed, aclOff)
	}
	f := req.ExtFields
	acc := auth.Account{Name: f["accessKey"], AccessKey: f["accessKey"], SecretKey: f["secretKey"],
		Admin: f["admin"] == "true", WhiteRemoteAddress: f["whiteRemoteAddress"]}
	if acc.SecretKey == "" { // an update that does not change the secret
		list, _ := b.cfg.Accounts.List()
		if i := slices.IndexFunc(list, func(a auth.Account) bool { return a.AccessKey == acc.AccessKey }); i >= 0 {
			acc.SecretKey = list[i].SecretKey
		}
	}
	acls, err := auth.PermACLs(auth.User(acc.Name), splitList(f["topicPerms"]), splitList(f["groupPerms"]),
		f["defaultTopicPerm"], f["defaultGroupPerm"])
	if err == nil {
		err = b.cfg.Accounts.Put(acc)
	}
	if err == nil && len(acls) > 0 {
		_, err = b.cfg.Authorizer.Create(acls)
	}
	if err != nil {
		return remoting.NewResponse(req, updateAndCreateACLConfigFailed, err.Error())
	}
	b.log.Info("acl: account created or updated", "accessKey", acc.AccessKey, "admin", acc.Admin, "acls", len(acls))
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) deleteACLConfig(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	if b.cfg.Accounts == nil {
		return remoting.NewResponse(req, deleteACLConfigFailed, aclOff)
	}
	ak := req.ExtFields["accessKey"]
	list, _ := b.cfg.Accounts.List()
	i := slices.IndexFunc(list, func(a auth.Account) bool { return a.AccessKey == ak })
	if i < 0 {
		return remoting.NewResponse(req, deleteACLConfigFailed, "no account with accessKey "+ak)
	}
	if _, err := b.cfg.Accounts.Delete(list[i].Name); err != nil {
		return remoting.NewResponse(req, deleteACLConfigFailed, err.Error())
	}
	b.log.Info("acl: account deleted", "accessKey", ak)
	return remoting.NewResponse(req, remoting.Success, "")
}

func (b *Broker) updateGlobalWhiteAddrs(_ context.Context, _ *netio.Conn, req *remoting.Command) *remoting.Command {
	if b.cfg.Accounts == nil {
		return remoting.NewResponse(req, updateGlobalWhiteAddrsConfigFailed, aclOff)
	}
	if err := b.cfg.Accounts.SetGlobalWhitelist(splitList(req.ExtFields["globalWhiteAddrs"])); err != nil {
		return remoting.NewResponse(req, updateGlobalWhiteAddrsConfigFailed, err.Error())
	}
	return remoting.NewResponse(req, remoting.Success, "")
}
