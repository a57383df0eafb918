package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// newMessageCommand builds `twinmq message ...`, admin commands on
// messages over the remoting protocol.
func newMessageCommand() *cobra.Command {
	msg := markAdmin(groupCommand(&cobra.Command{Use: "message", Short: "Query, trim and re-send messages (query and resend-dlq over RocketMQ remoting, trim over Kafka)"}))
	var group, addr string
	var maxN int32
	resend := &cobra.Command{
		Use:   "resend-dlq",
		Short: "Re-send a consumer group's dead letters (%DLQ%<group>) to their original topics",
		Long: "Stores each message of %DLQ%<group> again in its original topic (RETRY_TOPIC) as a\n" +
			"fresh message: same body, tags, keys and message id, reconsume times 0. The\n" +
			"group's offset on its DLQ records what was re-sent, so a second run re-sends only\n" +
			"messages that reached the DLQ since.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := resendDLQ(cmd.Context(), addr, group, maxN)
			if err != nil {
				return err
			}
			return writeOutput(cmd, res, func(out io.Writer) error {
				_, err := fmt.Fprintf(out, "resent %d, skipped %d (no original topic); %%DLQ%%%s next offset %d\n",
					res.Resent, res.Skipped, group, res.NextOffset)
				return err
			})
		},
	}
	resend.Flags().StringVar(&group, "group", "", "consumer group whose DLQ to re-send (required)")
	resend.Flags().StringVar(&addr, "broker-addr", "127.0.0.1:10911", "RocketMQ remoting address of the broker holding the DLQ")
	resend.Flags().Int32Var(&maxN, "max", 10_000, "most messages to re-send in this run")
	_ = resend.MarkFlagRequired("group")
	msg.AddCommand(resend, newMessageQueryCommand(), newMessageTrimCommand())
	return msg
}

// resendDLQ sends one remotingapi.ResendDLQ request.
func resendDLQ(ctx context.Context, addr, group string, maxN int32) (remotingapi.ResendDLQResult, error) {
	var res remotingapi.ResendDLQResult
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return res, fmt.Errorf("resend-dlq: %w", err)
	}
	defer c.Close()
	req := remoting.NewRequest(remotingapi.ResendDLQ, 0)
	req.ExtFields["group"] = group
	req.ExtFields["max"] = strconv.Itoa(int(maxN))
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return res, fmt.Errorf("resend-dlq: %s: %w", addr, err)
	}
	if resp.Code != remoting.Success {
		return res, fmt.Errorf("resend-dlq: %s answered %d: %s", addr, resp.Code, resp.Remark)
	}
	if err := json.Unmarshal(resp.Body, &res); err != nil {
		return res, fmt.Errorf("resend-dlq: response body: %w", err)
	}
	return res, nil
}
