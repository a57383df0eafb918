package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/broker/auth"
)

// addAuthzFlags adds the authorization settings of a broker (Kafka's
// authorizer and RocketMQ's plain ACL; docs/security.md).
func addAuthzFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.Bool("authorizer-enable", d.AuthorizerEnable, "check every Kafka request against the ACLs (twinmq acl ...)")
	fs.Bool("allow-everyone-if-no-acl-found", d.AllowEveryoneIfNoACLFound,
		"allow an operation on a resource that no ACL names (Kafka's allow.everyone.if.no.acl.found)")
	fs.String("super-users", d.SuperUsers, "principals that may do anything, e.g. 'User:admin;User:ops'")
	fs.Bool("acl-enable", d.ACLEnable, "RocketMQ: require AccessKey signatures and check the ACLs (twinmq acl ak ...)")
}

// superUsers parses superUsers ("User:admin;User:ops").
func (c *Config) superUsers() ([]auth.Principal, error) {
	var out []auth.Principal
	for _, s := range strings.Split(c.SuperUsers, ";") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p := auth.Principal(s)
		if p.Type() == "" || p.Name() == "" {
			return nil, fmt.Errorf("superUsers: %q is not Type:name (User:admin)", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// openAuthz opens the ACLs and RocketMQ accounts of cfg's data directory
// when Kafka's authorizer or RocketMQ's ACL is on; nil when both are off.
func openAuthz(cfg Config, logger *slog.Logger) (*auth.Authorizer, *auth.Accounts, error) {
	if !cfg.AuthorizerEnable && !cfg.ACLEnable {
		return nil, nil, nil
	}
	supers, err := cfg.superUsers()
	if err != nil {
		return nil, nil, err
	}
	az, err := auth.OpenAuthorizer(cfg.DataDir, auth.Policy{SuperUsers: supers, AllowEveryoneIfNoACLFound: cfg.AllowEveryoneIfNoACLFound})
	if err != nil {
		return nil, nil, err
	}
	accs, err := auth.OpenAccounts(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	// An admin account may do anything from either protocol.
	az.SetExtraSuperUsers(accs.IsAdmin)
	list, _ := accs.List()
	logger.Info("authorization on", "kafka", cfg.AuthorizerEnable, "rocketmq", cfg.ACLEnable,
		"acls", len(az.Describe(auth.MatchAll)), "rocketmqAccounts", len(list), "superUsers", cfg.SuperUsers,
		"allowEveryoneIfNoAclFound", cfg.AllowEveryoneIfNoACLFound)
	return az, accs, nil
}

// rocketMQACL is the RocketMQ listener's accounts and authorizer: nil
// unless aclEnable.
func (c *Config) rocketMQACL() (*auth.Accounts, *auth.Authorizer) {
	if !c.ACLEnable {
		return nil, nil
	}
	return c.accounts, c.authz
}

// kafkaAuthorizer is the Kafka listener's authorizer: nil unless
// authorizerEnable.
func (c *Config) kafkaAuthorizer() *auth.Authorizer {
	if !c.AuthorizerEnable {
		return nil
	}
	return c.authz
}

// namesrvAccounts are the accounts a name server checks its destructive
// requests against: nil unless aclEnable (nameserver/acl.go). It reads
// the accounts file of cfg's data directory at start.
func namesrvAccounts(cfg Config) (*auth.Accounts, error) {
	if !cfg.ACLEnable {
		return nil, nil
	}
	return auth.OpenAccounts(cfg.DataDir)
}
