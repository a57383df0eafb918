package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/broker/auth"
)

// `twinmq acl ak create|list|delete|whitelist`: RocketMQ AccessKey
// accounts, written to the data directory of a stopped broker (as
// kafka-storage format --add-scram works before the first start): the
// broker reads them at start. An account NAME is the principal User:NAME;
// its --topic-perm and --group-perm become ACLs in the same data
// directory, which `twinmq acl list` then shows with the Kafka ones.

func newACLAKCommand() *cobra.Command {
	var dataDir string
	ak := groupCommand(&cobra.Command{Use: "ak",
		Short: "RocketMQ AccessKey accounts (offline: on the data directory of a stopped broker)"})
	ak.PersistentFlags().StringVar(&dataDir, "data-dir", defaultConfig().DataDir, "the broker's data directory")

	var acc auth.Account
	var topicPerms, groupPerms []string
	var defTopic, defGroup string
	create := &cobra.Command{
		Use:   "create NAME --secret-key SK",
		Short: "Create or replace the account NAME (principal User:NAME) and add ACLs for its permissions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			acc.Name = args[0]
			if acc.SecretKey == "" {
				return fmt.Errorf("%s: --secret-key is required", commandName(cmd))
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

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete the account NAME (its ACLs stay: twinmq acl delete removes them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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

	var addrs []string
	white := &cobra.Command{
		Use:   "whitelist --address A [--address B]",
		Short: "Set the global whitelist: requests from these addresses skip every check (none: clear it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
