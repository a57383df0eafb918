package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/twinmq/twinmq/broker/auth"
)

// `twinmq user create|list|delete`: SCRAM users of the Kafka SASL
// listeners (docs/security.md). With --data-dir the command edits the
// credentials file of a stopped broker (or one not started yet), as
// `kafka-storage format --add-scram` does; without it, it asks a running
// broker through AlterUserScramCredentials / DescribeUserScramCredentials,
// authenticating with --user and --admin-password.

type userFlags struct {
	adminFlags
	dataDir string
	// createMechs and deleteMechs are create's and delete's --mechanism
	// (one variable for both would take the last flag's default).
	createMechs, deleteMechs []string
	iterations               int
}

// offline reports whether the command edits a data directory.
func (f *userFlags) offline() bool { return f.dataDir != "" }

func parseMechanisms(names []string) ([]auth.Mechanism, error) {
	var out []auth.Mechanism
	for _, m := range names {
		mm, err := auth.ParseMechanism(m)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, mm) {
			out = append(out, mm)
		}
	}
	return out, nil
}

var kadmMechanisms = map[auth.Mechanism]kadm.ScramMechanism{auth.ScramSHA256: kadm.ScramSha256, auth.ScramSHA512: kadm.ScramSha512}

func newUserCommand() *cobra.Command {
	f := &userFlags{}
	f.passwordFlag = "admin-password"
	user := markAdmin(groupCommand(&cobra.Command{Use: "user",
		Short: "Create, list and delete SCRAM users of the Kafka SASL listeners (offline with --data-dir, else online)"}))
	f.adminFlags.add(user)
	user.PersistentFlags().StringVar(&f.dataDir, "data-dir", "", "edit this stopped broker's data directory instead of asking a running broker")

	var password string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user or change its password (SCRAM credentials; the password itself is never stored)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if password == "" {
				return fmt.Errorf("%s: --password is required", commandName(cmd))
			}
			mechs, err := parseMechanisms(f.createMechs)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if len(mechs) == 0 {
				return fmt.Errorf("%s: no --mechanism", commandName(cmd))
			}
			if f.offline() {
				return f.editOffline(cmd, func(u *auth.Users) error {
					var changes []auth.Change
					for _, m := range mechs {
						c, err := auth.PasswordCredential(m, password, f.iterations)
						if err != nil {
							return err
						}
						changes = append(changes, auth.Change{Name: args[0], Mechanism: m, Credential: &c})
					}
					return u.Apply(changes...)
				})
			}
			var ups []kadm.UpsertSCRAM
			for _, m := range mechs {
				ups = append(ups, kadm.UpsertSCRAM{User: args[0], Mechanism: kadmMechanisms[m], Iterations: int32(f.iterations), Password: password})
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				return alterSCRAM(ctx, adm, nil, ups)
			})
		},
	}
	create.Flags().StringVar(&password, "password", "", "the new user's password")
	create.Flags().StringSliceVar(&f.createMechs, "mechanism", []string{string(auth.ScramSHA256), string(auth.ScramSHA512)},
		"SCRAM mechanism(s) to create credentials for (PLAIN logins check either)")
	create.Flags().IntVar(&f.iterations, "iterations", auth.DefaultIterations, "SCRAM iterations (4096 to 16384)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users and their SCRAM mechanisms",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.offline() {
				u, err := auth.OpenUsers(f.dataDir)
				if err != nil {
					return fmt.Errorf("%s: %w", commandName(cmd), err)
				}
				var rows []userRow
				for _, name := range u.Names() {
					for m, it := range u.Mechanisms(name) {
						rows = append(rows, userRow{name, string(m), it})
					}
				}
				return writeUsers(cmd, rows)
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				desc, err := adm.DescribeUserSCRAMs(ctx)
				if err != nil {
					return err
				}
				var rows []userRow
				for name, d := range desc {
					if d.Err != nil {
						return fmt.Errorf("user %s: %w", name, d.Err)
					}
					for _, ci := range d.CredInfos {
						rows = append(rows, userRow{name, ci.Mechanism.String(), int(ci.Iterations)})
					}
				}
				return writeUsers(cmd, rows)
			})
		},
	}

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user's SCRAM credentials (all mechanisms unless --mechanism)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mechs, err := parseMechanisms(f.deleteMechs)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if f.offline() {
				return f.editOffline(cmd, func(u *auth.Users) error {
					var changes []auth.Change
					for m := range u.Mechanisms(args[0]) {
						if len(mechs) == 0 || slices.Contains(mechs, m) {
							changes = append(changes, auth.Change{Name: args[0], Mechanism: m})
						}
					}
					if len(changes) == 0 {
						return fmt.Errorf("%w: user %s", auth.ErrNoCredential, args[0])
					}
					return u.Apply(changes...)
				})
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				desc, err := adm.DescribeUserSCRAMs(ctx, args[0])
				if err != nil {
					return err
				}
				var dels []kadm.DeleteSCRAM
				for _, ci := range desc[args[0]].CredInfos {
					if len(mechs) == 0 || slices.Contains(mechs, auth.Mechanism(ci.Mechanism.String())) {
						dels = append(dels, kadm.DeleteSCRAM{User: args[0], Mechanism: ci.Mechanism})
					}
				}
				if err := desc[args[0]].Err; err != nil {
					return err
				}
				if len(dels) == 0 {
					return fmt.Errorf("user %s has no such credential", args[0])
				}
				return alterSCRAM(ctx, adm, dels, nil)
			})
		},
	}
	del.Flags().StringSliceVar(&f.deleteMechs, "mechanism", nil, "delete only these mechanisms' credentials")

	user.AddCommand(create, list, del)
	return user
}

// editOffline opens the credentials in --data-dir, applies edit, and
// says so.
func (f *userFlags) editOffline(cmd *cobra.Command, edit func(*auth.Users) error) error {
	u, err := auth.OpenUsers(f.dataDir)
	if err == nil {
		err = edit(u)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", commandName(cmd), err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s: done; a running broker on %s reads it at its next start\n", commandName(cmd), f.dataDir)
	return nil
}

// alterSCRAM sends the changes and returns the first refusal.
func alterSCRAM(ctx context.Context, adm *kadm.Client, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM) error {
	res, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", r.User, r.Err))
		}
	}
	return errors.Join(errs...)
}

type userRow struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Iterations int    `json:"iterations"`
}

func writeUsers(cmd *cobra.Command, rows []userRow) error {
	slices.SortFunc(rows, func(a, b userRow) int {
		if a.User != b.User {
			if a.User < b.User {
				return -1
			}
			return 1
		}
		if a.Mechanism < b.Mechanism {
			return -1
		}
		return 1
	})
	if rows == nil {
		rows = []userRow{}
	}
	return writeOutput(cmd, rows, func(out io.Writer) error {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", r.User, r.Mechanism, r.Iterations)
		}
		return tw.Flush()
	})
}
