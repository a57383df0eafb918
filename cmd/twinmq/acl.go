package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `twinmq acl create|list|delete`: Kafka ACLs over CreateAcls,
// DescribeAcls and DeleteAcls, with kafka-acls' flags, against a broker
// started with --authorizer-enable (or any Kafka broker with an
// authorizer). RocketMQ accounts are `twinmq acl ak ...` (acl_ak.go).

// aclFlags are kafka-acls' resource, principal and operation flags.
type aclFlags struct {
	allow, deny           []string // --allow-principal, --deny-principal
	allowHosts, denyHosts []string
	host                  string // --host: both allow and deny hosts
	principal             string // list: --principal
	ops                   []string
	topics, groups, txIDs []string
	cluster               bool
	pattern               string
}

func (a *aclFlags) add(cmd *cobra.Command, forList bool) {
	fs := cmd.Flags()
	if forList {
		fs.StringVar(&a.principal, "principal", "", "list only the ACLs of this principal (User:name)")
	} else {
		fs.StringArrayVar(&a.allow, "allow-principal", nil, "principal granted the operations (User:name; repeatable)")
		fs.StringArrayVar(&a.deny, "deny-principal", nil, "principal denied the operations (User:name; repeatable)")
		fs.StringArrayVar(&a.allowHosts, "allow-host", nil, "host (IP) the allow applies from (default: every host, *)")
		fs.StringArrayVar(&a.denyHosts, "deny-host", nil, "host (IP) the deny applies from (default: every host, *)")
		fs.StringVar(&a.host, "host", "", "host (IP) for both --allow-principal and --deny-principal")
		fs.StringArrayVar(&a.ops, "operation", nil,
			"Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite or All (repeatable)")
	}
	fs.StringArrayVar(&a.topics, "topic", nil, "topic (repeatable; with a prefixed pattern, the prefix)")
	fs.StringArrayVar(&a.groups, "group", nil, "consumer group (repeatable)")
	fs.StringArrayVar(&a.txIDs, "transactional-id", nil, "transactional id (repeatable)")
	fs.BoolVar(&a.cluster, "cluster", false, "the cluster resource")
	def := "literal"
	if forList {
		def = "any"
	}
	fs.StringVar(&a.pattern, "resource-pattern-type", def, "literal, prefixed (and for list and delete: any, match)")
}

// builder turns the flags into kadm's ACL builder. create asks for at
// least one principal, operation and resource, as kafka-acls --add does.
func (a *aclFlags) builder(mode string) (*kadm.ACLBuilder, error) {
	b := kadm.NewACLs()
	pat, err := kmsg.ParseACLResourcePatternType(a.pattern)
	if err != nil {
		return nil, fmt.Errorf("--resource-pattern-type %q: want literal, prefixed, any or match", a.pattern)
	}
	if mode == "create" && pat != kadm.ACLPatternLiteral && pat != kadm.ACLPatternPrefixed {
		return nil, fmt.Errorf("--resource-pattern-type %q: create takes literal or prefixed", a.pattern)
	}
	b.ResourcePatternType(pat)
	resources := len(a.topics) + len(a.groups) + len(a.txIDs)
	if a.cluster {
		resources++
		b.Clusters()
	}
	if len(a.topics) > 0 {
		b.Topics(a.topics...)
	}
	if len(a.groups) > 0 {
		b.Groups(a.groups...)
	}
	if len(a.txIDs) > 0 {
		b.TransactionalIDs(a.txIDs...)
	}
	if mode == "list" {
		if resources == 0 {
			b.AnyResource()
		}
		if a.principal != "" {
			b.Allow(a.principal).AllowHosts().Deny(a.principal).DenyHosts()
		} else {
			b.Allow().AllowHosts().Deny().DenyHosts()
		}
		return b.Operations(kadm.OpAny), nil
	}
	if resources == 0 {
		return nil, errors.New("name a resource: --topic, --group, --transactional-id or --cluster")
	}
	if len(a.allow)+len(a.deny) == 0 {
		return nil, errors.New("name a principal: --allow-principal or --deny-principal")
	}
	for _, p := range append(append([]string{}, a.allow...), a.deny...) {
		if typ, name, ok := strings.Cut(p, ":"); !ok || typ == "" || name == "" {
			return nil, fmt.Errorf("principal %q: want Type:name (User:alice)", p)
		}
	}
	ops := make([]kadm.ACLOperation, 0, len(a.ops))
	for _, o := range a.ops {
		op, err := kmsg.ParseACLOperation(o)
		if err != nil || op == kadm.OpUnknown || (op == kadm.OpAny && mode == "create") {
			return nil, fmt.Errorf("--operation %q: unknown", o)
		}
		ops = append(ops, op)
	}
	switch {
	case len(ops) == 0 && mode == "create":
		return nil, errors.New("name an operation: --operation Read (repeatable)")
	case len(ops) == 0:
		ops = []kadm.ACLOperation{kadm.OpAny}
	}
	b.Operations(ops...)
	allowHosts, denyHosts := a.allowHosts, a.denyHosts
	if a.host != "" {
		allowHosts, denyHosts = append(allowHosts, a.host), append(denyHosts, a.host)
	}
	if len(a.allow) > 0 {
		b.Allow(a.allow...).AllowHosts(orWildcard(allowHosts, mode)...)
	}
	if len(a.deny) > 0 {
		b.Deny(a.deny...).DenyHosts(orWildcard(denyHosts, mode)...)
	}
	return b, nil
}

// orWildcard is hosts, or when none: "*" to create (every host), nothing
// (any host) to delete.
func orWildcard(hosts []string, mode string) []string {
	if len(hosts) == 0 && mode == "create" {
		return []string{"*"}
	}
	return hosts
}

// aclLine is one ACL as the commands print it.
type aclLine struct {
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
	ResourceType string `json:"resourceType"`
	ResourceName string `json:"resourceName"`
	PatternType  string `json:"patternType"`
}

func (l aclLine) String() string {
	return fmt.Sprintf("%s %s %s from %s on %s:%s (%s)", l.Permission, l.Principal, l.Operation, l.Host,
		l.ResourceType, l.ResourceName, l.PatternType)
}

func describedLine(d kadm.DescribedACL) aclLine {
	return aclLine{Principal: d.Principal, Host: d.Host, Operation: d.Operation.String(), Permission: d.Permission.String(),
		ResourceType: d.Type.String(), ResourceName: d.Name, PatternType: d.Pattern.String()}
}

// newACLCommand builds `twinmq acl ...`.
func newACLCommand() *cobra.Command {
	var f adminFlags
	acl := markAdmin(groupCommand(&cobra.Command{Use: "acl",
		Short: "Create, list and delete ACLs (Kafka's, over the Kafka protocol; RocketMQ accounts: acl ak)"}))
	f.add(acl)

	var cf aclFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Create ACLs: every principal x operation x resource given (kafka-acls --add)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := cf.builder("create")
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				res, err := adm.CreateACLs(ctx, b)
				if err != nil {
					return err
				}
				return report(cmd, res, func(r kadm.CreateACLsResult) (string, string, any, error) {
					l := aclLine{Principal: r.Principal, Host: r.Host, Operation: r.Operation.String(),
						Permission: r.Permission.String(), ResourceType: r.Type.String(), ResourceName: r.Name,
						PatternType: r.Pattern.String()}
					return l.String(), "created " + l.String(), l, withDetail(r.Err, r.ErrMessage)
				})
			})
		},
	}
	cf.add(create, false)

	var lf aclFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List ACLs, all or those of a resource or a principal (kafka-acls --list)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := lf.builder("list")
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				res, err := adm.DescribeACLs(ctx, b)
				if err != nil {
					return err
				}
				var lines []aclLine
				seen := map[aclLine]bool{}
				for _, r := range res {
					if r.Err != nil {
						return withDetail(r.Err, r.ErrMessage)
					}
					for _, d := range r.Described {
						if l := describedLine(d); !seen[l] { // two filters can match one ACL
							seen[l] = true
							lines = append(lines, l)
						}
					}
				}
				return report(cmd, lines, func(l aclLine) (string, string, any, error) { return l.String(), l.String(), l, nil })
			})
		},
	}
	lf.add(list, true)

	var df aclFlags
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete the ACLs that match: principal, operation (default any), resource (kafka-acls --remove)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := df.builder("delete")
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				res, err := adm.DeleteACLs(ctx, b)
				if err != nil {
					return err
				}
				var lines []aclLine
				var errs []error
				for _, r := range res {
					if r.Err != nil {
						errs = append(errs, withDetail(r.Err, r.ErrMessage))
						continue
					}
					for _, d := range r.Deleted {
						if d.Err != nil {
							errs = append(errs, withDetail(d.Err, d.ErrMessage))
							continue
						}
						lines = append(lines, describedLine(kadm.DescribedACL{Principal: d.Principal, Host: d.Host,
							Type: d.Type, Name: d.Name, Pattern: d.Pattern, Operation: d.Operation, Permission: d.Permission}))
					}
				}
				err = report(cmd, lines, func(l aclLine) (string, string, any, error) {
					return l.String(), "deleted " + l.String(), l, nil
				})
				return errors.Join(append(errs, err)...)
			})
		},
	}
	df.add(del, false)
	acl.AddCommand(create, list, del, newACLAKCommand())
	return acl
}
