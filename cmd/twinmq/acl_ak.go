package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// `twinmq acl ak create|list|delete|whitelist`: RocketMQ AccessKey
// accounts, written to the data directory of a stopped broker (as
// kafka-storage format --add-scram works before the first start): the
// broker reads them at start. An account NAME is the principal User:NAME;
// its --topic-perm and --group-perm become ACLs in the same data
// directory, which `twinmq acl list` then shows with the Kafka ones.
//
// With --broker-addr, create, delete and whitelist go to a running broker
// instead, as RocketMQ's ACL admin requests (UPDATE_AND_CREATE_ACL_CONFIG
// 50, DELETE_ACL_CONFIG 51, UPDATE_GLOBAL_WHITE_ADDRS_CONFIG 53, as
// mqadmin sends them), signed with an admin account's --admin-access-key
// and --admin-secret-key; there an account is named by its access key.

// akOnline is where and as whom the online forms send.
type akOnline struct {
	broker, ak, sk string
}

func (o *akOnline) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.broker, "broker-addr", "", "a running broker's RocketMQ address (host:port): change it online instead of --data-dir")
	cmd.Flags().StringVar(&o.ak, "admin-access-key", "", "with --broker-addr: the admin account's access key the request is signed with")
	cmd.Flags().StringVar(&o.sk, "admin-secret-key", "", "with --broker-addr: the admin account's secret key")
}

// call sends a signed ACL admin request to the broker.
func (o *akOnline) call(cmd *cobra.Command, code int32, ext map[string]string) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
	defer cancel()
	c, err := nameserver.Dial(ctx, o.broker)
	if err != nil {
		return err
	}
	defer c.Close()
	req := remoting.NewRequest(code, 0)
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	if o.ak != "" {
		req.ExtFields[auth.FieldAccessKey] = o.ak
		req.ExtFields[auth.FieldSignature] = auth.Sign(req.ExtFields, nil, o.sk)
	}
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return fmt.Errorf("%s (%d): %s", remoting.ResponseName(resp.Code), resp.Code, resp.Remark)
	}
	return nil
}

func newACLAKCommand() *cobra.Command {
	var dataDir string
	ak := groupCommand(&cobra.Command{Use: "ak",
		Short: "RocketMQ AccessKey accounts (offline: on the data directory of a stopped broker)"})
	ak.PersistentFlags().StringVar(&dataDir, "data-dir", defaultConfig().DataDir, "the broker's data directory")

	var acc auth.Account
	var topicPerms, groupPerms []string
	var defTopic, defGroup string
	var createOn akOnline
	create := &cobra.Command{
		Use:   "create NAME --secret-key SK",
		Short: "Create or replace the account NAME (principal User:NAME) and add ACLs for its permissions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			acc.Name = args[0]
			if acc.SecretKey == "" {
				return fmt.Errorf("%s: --secret-key is required", commandName(cmd))
			}
			if createOn.broker != "" {
				if acc.AccessKey != "" && acc.AccessKey != acc.Name {
					return fmt.Errorf("%s: online, an account is named by its access key: leave --access-key out", commandName(cmd))
				}
				err := createOn.call(cmd, 50, map[string]string{"accessKey": acc.Name, "secretKey": acc.SecretKey,
					"admin": fmt.Sprint(acc.Admin), "whiteRemoteAddress": acc.WhiteRemoteAddress,
					"defaultTopicPerm": defTopic, "defaultGroupPerm": defGroup,
					"topicPerms": strings.Join(topicPerms, ","), "groupPerms": strings.Join(groupPerms, ",")})
				if err != nil {
					return fmt.Errorf("%s: %w", commandName(cmd), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s (principal User:%s) created on %s\n", acc.Name, acc.Name, createOn.broker)
				return nil
			}
			acls, err := auth.PermACLs(auth.User(acc.Name), topicPerms, groupPerms, defTopic, defGroup)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			accs, err := auth.OpenAccounts(dataDir)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if err := accs.Put(acc); err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if len(acls) > 0 {
				az, err := auth.OpenAuthorizer(dataDir, auth.Policy{})
				if err != nil {
					return fmt.Errorf("%s: %w", commandName(cmd), err)
				}
				if _, err := az.Create(acls); err != nil {
					return fmt.Errorf("%s: %w", commandName(cmd), err)
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "account %s (principal User:%s, accessKey %s", acc.Name, acc.Name, orDefault(acc.AccessKey, acc.Name))
			if acc.Admin {
				fmt.Fprint(out, ", admin")
			}
			fmt.Fprintln(out, ")")
			for _, a := range acls {
				fmt.Fprintln(out, "acl", a)
			}
			return nil
		},
	}
	create.Flags().StringVar(&acc.AccessKey, "access-key", "", "the AccessKey clients send (default: NAME)")
	create.Flags().StringVar(&acc.SecretKey, "secret-key", "", "the SecretKey clients sign with (6 characters or more)")
	create.Flags().BoolVar(&acc.Admin, "admin", false, "an admin account: may do anything, from both protocols, and send the admin requests")
	create.Flags().StringVar(&acc.WhiteRemoteAddress, "white-remote-address", "", "requests for this account from these addresses skip every check (10.0.0.*)")
	create.Flags().StringArrayVar(&topicPerms, "topic-perm", nil, "TOPIC=PUB|SUB|DENY (repeatable): PUB is Write, SUB Read, DENY a deny of All")
	create.Flags().StringArrayVar(&groupPerms, "group-perm", nil, "GROUP=SUB|DENY (repeatable)")
	create.Flags().StringVar(&defTopic, "default-topic-perm", "", "the permission on every topic (an ACL on *; DENY adds none)")
	create.Flags().StringVar(&defGroup, "default-group-perm", "", "the permission on every group (an ACL on *; DENY adds none)")
	createOn.add(create)

	list := &cobra.Command{
		Use:   "list",
		Short: "List the accounts (without their secret keys) and the global whitelist",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			accs, err := auth.OpenAccounts(dataDir)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			list, white := accs.List()
			type row struct {
				Name, AccessKey, WhiteRemoteAddress string
				Admin                               bool
			}
			rows := []row{}
			for _, a := range list {
				rows = append(rows, row{a.Name, a.AccessKey, a.WhiteRemoteAddress, a.Admin})
			}
			return writeOutput(cmd, map[string]any{"accounts": rows, "globalWhiteRemoteAddresses": white}, func(out io.Writer) error {
				for _, r := range rows {
					fmt.Fprintf(out, "%s\taccessKey=%s\tadmin=%v\twhiteRemoteAddress=%s\n", r.Name, r.AccessKey, r.Admin, r.WhiteRemoteAddress)
				}
				for _, w := range white {
					fmt.Fprintf(out, "global whitelist\t%s\n", w)
				}
				return nil
			})
		},
	}

	var delOn akOnline
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete the account NAME (its ACLs stay: twinmq acl delete removes them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if delOn.broker != "" {
				if err := delOn.call(cmd, 51, map[string]string{"accessKey": args[0]}); err != nil {
					return fmt.Errorf("%s: %w", commandName(cmd), err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "deleted account", args[0], "on", delOn.broker)
				return nil
			}
			accs, err := auth.OpenAccounts(dataDir)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			ok, err := accs.Delete(args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if !ok {
				return fmt.Errorf("%s: %w", commandName(cmd), errors.New("no account "+args[0]))
			}
			fmt.Fprintln(cmd.OutOrStdout(), "deleted account", args[0])
			return nil
		},
	}

	delOn.add(del)

	var addrs []string
	var whiteOn akOnline
	white := &cobra.Command{
		Use:   "whitelist --address A [--address B]",
		Short: "Set the global whitelist: requests from these addresses skip every check (none: clear it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if whiteOn.broker != "" {
				if err := whiteOn.call(cmd, 53, map[string]string{"globalWhiteAddrs": strings.Join(addrs, ",")}); err != nil {
					return fmt.Errorf("%s: %w", commandName(cmd), err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "global whitelist:", addrs, "on", whiteOn.broker)
				return nil
			}
			accs, err := auth.OpenAccounts(dataDir)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if err := accs.SetGlobalWhitelist(addrs); err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "global whitelist:", addrs)
			return nil
		},
	}
	whiteOn.add(white)
	white.Flags().StringArrayVar(&addrs, "address", nil, "an address pattern: 10.0.0.1, 10.0.*.*, 10.0.0.1-9, 10.0.0.{1,2} (repeatable)")
	ak.AddCommand(create, list, del, white)
	return ak
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
