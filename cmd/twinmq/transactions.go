package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/broker/remotingapi"
	"github.com/twinmq/twinmq/storage"
)

// RocketMQ transactions (docs/transactions-rocketmq.md): the check-back
// settings keep BrokerConfig's names and units (milliseconds).

func addTransactionFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.Int64("transaction-timeout", d.TransactionTimeOut, "RocketMQ transactionTimeOut: age (ms) of an unended transactional message before its producer group is asked about it")
	fs.Int64("transaction-check-interval", d.TransactionCheckInterval, "RocketMQ transactionCheckInterval: ms between two checks of one transaction")
	fs.Int("transaction-check-max", d.TransactionCheckMax, "RocketMQ transactionCheckMax: checks before a transaction is given up (moved to TRANS_CHECK_MAX_TIME_TOPIC)")
}

// validateTransactions checks the check-back settings.
func (c *Config) validateTransactions() []error {
	var errs []error
	const maxMs = 7 * 24 * 3600 * 1000 // a week
	if c.TransactionTimeOut <= 0 || c.TransactionTimeOut > maxMs {
		errs = append(errs, fmt.Errorf("transactionTimeOut %d: must be in 1..%d ms", c.TransactionTimeOut, maxMs))
	}
	if c.TransactionCheckInterval <= 0 || c.TransactionCheckInterval > maxMs {
		errs = append(errs, fmt.Errorf("transactionCheckInterval %d: must be in 1..%d ms", c.TransactionCheckInterval, maxMs))
	}
	if c.TransactionCheckMax <= 0 || c.TransactionCheckMax > 65535 {
		errs = append(errs, fmt.Errorf("transactionCheckMax %d: must be in 1..65535", c.TransactionCheckMax))
	}
	return errs
}

// startTransactions replays the half messages and starts checking them
// back through b; call it before b serves, so that no transactional send
// is stored as a plain message. stop ends the checks (pending half
// messages stay on disk).
func startTransactions(ctx context.Context, cfg Config, b *remotingapi.Broker, store *storage.Store, logger *slog.Logger) (stop func(), err error) {
	svc, err := halfmsg.Start(ctx, halfmsg.Config{
		Store: store, Append: b.AppendResolution, Check: b.CheckTransaction, Discarded: b.TransactionDiscarded, Logger: logger,
		Timeout:   time.Duration(cfg.TransactionTimeOut) * time.Millisecond,
		Interval:  time.Duration(cfg.TransactionCheckInterval) * time.Millisecond,
		MaxChecks: cfg.TransactionCheckMax,
	})
	if err != nil {
		return nil, fmt.Errorf("transactions: %w", err)
	}
	b.EnableTransactions(svc)
	logger.Info("RocketMQ transactions enabled", "transactionTimeOut", cfg.TransactionTimeOut,
		"transactionCheckInterval", cfg.TransactionCheckInterval, "transactionCheckMax", cfg.TransactionCheckMax)
	return svc.Close, nil
}
