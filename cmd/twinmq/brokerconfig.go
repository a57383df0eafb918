package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// `twinmq broker config get|set`: mqadmin getBrokerConfig and
// updateBrokerConfig, over the RocketMQ remoting protocol
// (GET_BROKER_CONFIG 26, UPDATE_BROKER_CONFIG 25).

// getBrokerConfigCode and updateBrokerConfigCode are RequestCode.java's.
const (
	getBrokerConfigCode    int32 = 26
	updateBrokerConfigCode int32 = 25
)

func newBrokerConfigCommand() *cobra.Command {
	config := markAdmin(groupCommand(&cobra.Command{Use: "config", Short: "Read a running broker's settings (get) or change the dynamic ones (set)"}))
	var addr string
	config.PersistentFlags().StringVar(&addr, "broker-addr", "127.0.0.1:10911", "RocketMQ remoting address of the broker")
	get := &cobra.Command{
		Use:   "get [KEY...]",
		Short: "Print the broker's settings (GET_BROKER_CONFIG), all or the keys given",
		RunE: func(cmd *cobra.Command, keys []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
			defer cancel()
			resp, err := invokeOnce(ctx, addr, getBrokerConfigCode, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			if resp.Code != remoting.Success {
				return fmt.Errorf("%s: %s answered %d: %s", commandName(cmd), addr, resp.Code, resp.Remark)
			}
			props := map[string]string{}
			for line := range strings.Lines(string(resp.Body)) {
				if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && k != "" {
					props[k] = v
				}
			}
			if len(keys) > 0 {
				var missing []string
				for _, k := range keys {
					if _, ok := props[k]; !ok {
						missing = append(missing, k)
					}
				}
				if len(missing) > 0 {
					return fmt.Errorf("%s: %s reports no %s", commandName(cmd), addr, strings.Join(missing, ", "))
				}
				props = maps.Collect(func(yield func(string, string) bool) {
					for _, k := range keys {
						if !yield(k, props[k]) {
							return
						}
					}
				})
			}
			return writeOutput(cmd, props, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY\tVALUE")
				for _, k := range slices.Sorted(maps.Keys(props)) {
					fmt.Fprintf(tw, "%s\t%s\n", k, props[k])
				}
				return tw.Flush()
			})
		},
	}
	set := &cobra.Command{
		Use:   "set KEY=VALUE...",
		Short: "Change settings while the broker runs (UPDATE_BROKER_CONFIG): flushIntervalCommitLog, retentionBytes, logLevel; others are start-only and it says how to change each",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, kvs []string) error {
			var body strings.Builder
			for _, kv := range kvs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" || strings.ContainsAny(kv, "\n\r") {
					return fmt.Errorf("%s: %q: want key=value", commandName(cmd), kv)
				}
				body.WriteString(k + "=" + v + "\n")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
			defer cancel()
			c, err := nameserver.Dial(ctx, addr)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", commandName(cmd), addr, err)
			}
			defer c.Close()
			req := remoting.NewRequest(updateBrokerConfigCode, 0)
			req.Body = []byte(body.String())
			resp, err := c.Invoke(ctx, req)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", commandName(cmd), addr, err)
			}
			if resp.Code != remoting.Success {
				return fmt.Errorf("%s: %s", commandName(cmd), resp.Remark)
			}
			return writeOutput(cmd, map[string]any{"updated": kvs}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "updated %s\n", strings.Join(kvs, " "))
				return err
			})
		},
	}
	config.AddCommand(get, set)
	return config
}
