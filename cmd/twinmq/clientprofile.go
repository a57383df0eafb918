package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Where admin commands connect, rpk-style: a flag wins, then the
// environment (TWINMQ_BOOTSTRAP_SERVER, TWINMQ_NAMESRV_ADDR,
// TWINMQ_BROKER_ADDR), then the profile named by --profile or
// TWINMQ_PROFILE, else the current profile of profiles.yaml, then the
// flag's default. Profiles live in $XDG_CONFIG_HOME/twinmq/profiles.yaml
// (os.UserConfigDir: ~/.config on Linux); `twinmq profile` edits them.

// Environment variables the admin commands read. They are not broker
// settings: loadConfig lets them pass (clientEnv).
const (
	envBootstrap  = "TWINMQ_BOOTSTRAP_SERVER"
	envNamesrv    = "TWINMQ_NAMESRV_ADDR"
	envBrokerAddr = "TWINMQ_BROKER_ADDR"
	envProfile    = "TWINMQ_PROFILE"
)

// clientEnv are the TWINMQ_* variables only admin commands read; a broker
// command ignores them rather than refusing them as unknown settings, so
// that a shell that exports them can still start a broker.
// (TWINMQ_NAMESRV_ADDR is also the broker setting namesrvAddr.)
var clientEnv = []string{envBootstrap, envBrokerAddr, envProfile}

// withoutClientEnv is environ without the clientEnv variables.
func withoutClientEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(clientEnv, name) {
			out = append(out, kv)
		}
	}
	return out
}

// adminAnnotation marks the command groups whose commands are admin
// clients (topic, group, message, cluster, broker).
const adminAnnotation = "twinmq/admin"

// markAdmin marks c as an admin command group (markClient) and gives it
// the --format flag.
func markAdmin(c *cobra.Command) *cobra.Command {
	markClient(c)
	c.PersistentFlags().String("format", "text", "output format: text, json or yaml")
	return c
}

// markClient marks c as a group of admin commands, whose address flags
// the environment and profiles fill, and gives it --profile. adminFlags.add
// calls it, so every command with --bootstrap-server is one.
func markClient(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[adminAnnotation] = "true"
	if c.PersistentFlags().Lookup("profile") == nil {
		c.PersistentFlags().String("profile", "", "connection profile to use (default: $TWINMQ_PROFILE, else the current one; see twinmq profile)")
	}
}

// isAdmin reports whether cmd is in an admin command group.
func isAdmin(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[adminAnnotation] == "true" {
			return true
		}
	}
	return false
}

// Profile is one named set of addresses.
type Profile struct {
	BootstrapServer string `yaml:"bootstrapServer,omitempty" json:"bootstrapServer,omitempty"`
	NamesrvAddr     string `yaml:"namesrvAddr,omitempty" json:"namesrvAddr,omitempty"`
	BrokerAddr      string `yaml:"brokerAddr,omitempty" json:"brokerAddr,omitempty"`
}

// profileFile is profiles.yaml.
type profileFile struct {
	Current  string             `yaml:"current,omitempty"`
	Profiles map[string]Profile `yaml:"profiles,omitempty"`
}

// profilesPath is profiles.yaml's path: $XDG_CONFIG_HOME from environ,
// else os.UserConfigDir (whose own lookups read the process environment).
func profilesPath(environ []string) (string, error) {
	if dir, ok := lookupEnv(environ, "XDG_CONFIG_HOME"); ok && dir != "" {
		return filepath.Join(dir, "twinmq", "profiles.yaml"), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	return filepath.Join(dir, "twinmq", "profiles.yaml"), nil
}

// maxProfilesFile bounds what readProfiles reads.
const maxProfilesFile = 1 << 20

// readProfiles reads path; a missing file is no profiles.
func readProfiles(path string) (profileFile, error) {
	var pf profileFile
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return pf, nil
	}
	if err != nil {
		return pf, fmt.Errorf("profiles: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProfilesFile+1))
	if err != nil {
		return pf, fmt.Errorf("profiles: %s: %w", path, err)
	}
	if len(b) > maxProfilesFile {
		return pf, fmt.Errorf("profiles: %s is larger than %d bytes", path, maxProfilesFile)
	}
	if err := yaml.Unmarshal(b, &pf); err != nil {
		return pf, fmt.Errorf("profiles: %s: %w", path, err)
	}
	return pf, nil
}

// writeProfiles writes pf to path (0600: it names the cluster's
// addresses), through a temporary file renamed over it.
func writeProfiles(path string, pf profileFile) error {
	b, err := yaml.Marshal(pf)
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	return nil
}

// applyClientDefaults fills, for an admin command, each address flag not
// given on the command line from the environment or the profile, and
// checks --format.
func applyClientDefaults(cmd *cobra.Command, environ []string) error {
	if !isAdmin(cmd) {
		return nil
	}
	if fl := cmd.Flags().Lookup("format"); fl != nil && fl.Value.Type() == "string" && !isKcatFormat(cmd) {
		if v := fl.Value.String(); v != "text" && v != "json" && v != "yaml" {
			return fmt.Errorf("%s: --format %q: want text, json or yaml", commandName(cmd), v)
		}
	}
	prof, err := activeProfile(cmd, environ)
	if err != nil {
		return fmt.Errorf("%s: %w", commandName(cmd), err)
	}
	for _, d := range []struct{ flag, env, profile string }{
		{"bootstrap-server", envBootstrap, prof.BootstrapServer},
		{"namesrv-addr", envNamesrv, prof.NamesrvAddr},
		{"broker-addr", envBrokerAddr, prof.BrokerAddr},
	} {
		fl := cmd.Flags().Lookup(d.flag)
		if fl == nil || fl.Changed {
			continue
		}
		v, _ := lookupEnv(environ, d.env)
		if v == "" {
			v = d.profile
		}
		if v == "" {
			continue
		}
		if err := fl.Value.Set(v); err != nil {
			return fmt.Errorf("%s: --%s from %s or the profile: %w", commandName(cmd), d.flag, d.env, err)
		}
	}
	return nil
}

// isKcatFormat reports whether cmd's --format is a kcat-style record
// format (topic produce and consume) rather than the output format.
func isKcatFormat(cmd *cobra.Command) bool {
	fl := cmd.LocalNonPersistentFlags().Lookup("format")
	return fl != nil && fl.Shorthand == "f"
}

// activeProfile is the profile --profile or TWINMQ_PROFILE names, else
// the current one, else none. A named profile that does not exist is an
// error; no profiles file is no profile.
func activeProfile(cmd *cobra.Command, environ []string) (Profile, error) {
	name := ""
	if fl := cmd.Flags().Lookup("profile"); fl != nil {
		name = fl.Value.String()
	}
	if name == "" {
		name, _ = lookupEnv(environ, envProfile)
	}
	path, err := profilesPath(environ)
	if err != nil {
		if name != "" {
			return Profile{}, err
		}
		return Profile{}, nil // no config dir: no profiles
	}
	pf, err := readProfiles(path)
	if err != nil {
		return Profile{}, err
	}
	if name == "" {
		name = pf.Current
		if name == "" {
			return Profile{}, nil
		}
	}
	p, ok := pf.Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("profile %q does not exist in %s (twinmq profile list)", name, path)
	}
	return p, nil
}

// newProfileCommand builds `twinmq profile ...`.
func newProfileCommand(environ []string) *cobra.Command {
	profile := groupCommand(&cobra.Command{Use: "profile", Short: "Named connection profiles for the admin commands (create, use, list, delete)",
		Long: "A profile names the addresses admin commands connect to: --bootstrap-server\n" +
			"(Kafka), --namesrv-addr and --broker-addr (RocketMQ). A flag wins, then\n" +
			"TWINMQ_BOOTSTRAP_SERVER, TWINMQ_NAMESRV_ADDR and TWINMQ_BROKER_ADDR, then the\n" +
			"profile given by --profile or TWINMQ_PROFILE, else the current profile.\n" +
			"Profiles are kept in $XDG_CONFIG_HOME/twinmq/profiles.yaml (~/.config on Linux)."})
	edit := func(cmd *cobra.Command, fn func(*profileFile) (string, error)) error {
		path, err := profilesPath(environ)
		if err != nil {
			return fmt.Errorf("%s: %w", commandName(cmd), err)
		}
		pf, err := readProfiles(path)
		if err != nil {
			return fmt.Errorf("%s: %w", commandName(cmd), err)
		}
		msg, err := fn(&pf)
		if err != nil {
			return fmt.Errorf("%s: %w", commandName(cmd), err)
		}
		if err := writeProfiles(path, pf); err != nil {
			return fmt.Errorf("%s: %w", commandName(cmd), err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), msg)
		return nil
	}

	var p Profile
	var noUse bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create (or replace) a profile and make it the current one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t\n:") {
				return fmt.Errorf("%s: profile name %q: want a word without spaces or ':'", commandName(cmd), name)
			}
			if p == (Profile{}) {
				return fmt.Errorf("%s: give at least one of --bootstrap-server, --namesrv-addr, --broker-addr", commandName(cmd))
			}
			return edit(cmd, func(pf *profileFile) (string, error) {
				if pf.Profiles == nil {
					pf.Profiles = map[string]Profile{}
				}
				pf.Profiles[name] = p
				if noUse {
					return "created profile " + name, nil
				}
				pf.Current = name
				return "created profile " + name + " (now current)", nil
			})
		},
	}
	create.Flags().StringVar(&p.BootstrapServer, "bootstrap-server", "", "Kafka listener(s), comma-separated")
	create.Flags().StringVar(&p.NamesrvAddr, "namesrv-addr", "", "';'-separated name servers")
	create.Flags().StringVar(&p.BrokerAddr, "broker-addr", "", "a broker's RocketMQ remoting address (host:10911)")
	create.Flags().BoolVar(&noUse, "no-use", false, "do not make it the current profile")

	use := &cobra.Command{
		Use:   "use NAME",
		Short: "Make a profile the current one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return edit(cmd, func(pf *profileFile) (string, error) {
				if _, ok := pf.Profiles[args[0]]; !ok {
					return "", fmt.Errorf("profile %q does not exist", args[0])
				}
				pf.Current = args[0]
				return "now using profile " + args[0], nil
			})
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return edit(cmd, func(pf *profileFile) (string, error) {
				if _, ok := pf.Profiles[args[0]]; !ok {
					return "", fmt.Errorf("profile %q does not exist", args[0])
				}
				delete(pf.Profiles, args[0])
				if pf.Current == args[0] {
					pf.Current = ""
				}
				return "deleted profile " + args[0], nil
			})
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the profiles; * marks the current one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := profilesPath(environ)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			pf, err := readProfiles(path)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			type row struct {
				Name    string `json:"name"`
				Current bool   `json:"current"`
				Profile
			}
			var rows []row
			for _, name := range slices.Sorted(maps.Keys(pf.Profiles)) {
				rows = append(rows, row{name, name == pf.Current, pf.Profiles[name]})
			}
			return writeOutput(cmd, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tBOOTSTRAP SERVER\tNAMESRV ADDR\tBROKER ADDR")
				for _, r := range rows {
					name := r.Name
					if r.Current {
						name += "*"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, dash(r.BootstrapServer), dash(r.NamesrvAddr), dash(r.BrokerAddr))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().String("format", "text", "output format: text, json or yaml")
	profile.AddCommand(create, use, list, del)
	return profile
}

// dash is s, or "-" when empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
