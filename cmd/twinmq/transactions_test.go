package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestTransactionSettings: RocketMQ's names in YAML, kebab-case flags
// (--transaction-timeout for transactionTimeOut) and TWINMQ_ variables
// set them; out-of-range values are refused.
func TestTransactionSettings(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addServeFlags(fs)
	if err := fs.Parse([]string{"--transaction-timeout", "1500", "--transaction-check-max", "3"}); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig("", fs, []string{"TWINMQ_TRANSACTION_CHECK_INTERVAL=2500"})
	if err != nil {
		t.Fatal(err)
	}
	if c.TransactionTimeOut != 1500 || c.TransactionCheckInterval != 2500 || c.TransactionCheckMax != 3 {
		t.Fatalf("got %d %d %d", c.TransactionTimeOut, c.TransactionCheckInterval, c.TransactionCheckMax)
	}
	if d := defaultConfig(); d.TransactionTimeOut != 6000 || d.TransactionCheckInterval != 30000 || d.TransactionCheckMax != 15 {
		t.Fatalf("defaults %d %d %d", d.TransactionTimeOut, d.TransactionCheckInterval, d.TransactionCheckMax)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.TransactionTimeOut = 0 },
		func(c *Config) { c.TransactionCheckInterval = -1 },
		func(c *Config) { c.TransactionCheckMax = 70000 },
	} {
		c := defaultConfig()
		bad(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), "transaction") {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestServeEnablesTransactions: serve turns RocketMQ transactions on with
// the configured settings.
func TestServeEnablesTransactions(t *testing.T) {
	logs := startStop(t, testConfig(t, func(c *Config) { c.TransactionCheckMax = 4 }))
	for _, want := range []string{"RocketMQ transactions enabled", "transactionTimeOut=6000", "transactionCheckMax=4"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}
