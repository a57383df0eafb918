package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twinmq/twinmq/storage"
)

// run is `twinmq serve`: it opens the store, runs until ctx is done, then
// closes the store.
func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	store, err := storage.Open(ctx, cfg.storageConfig(logger))
	if err != nil {
		return fmt.Errorf("serve: open store %s: %w", cfg.storeDir(), err)
	}
	logger.Info("store open",
		"dir", cfg.storeDir(),
		"flushDiskType", cfg.FlushDiskType,
		"flushIntervalMs", cfg.FlushIntervalMs,
		"segmentSize", cfg.SegmentSize)
	// RocketMQ: the embedded name server, and the broker registered with it.
	reg, offs, err := openBrokerState(ctx, store, logger)
	if err != nil {
		_ = store.Close()
		return fmt.Errorf("serve: %w", err)
	}
	closeState := func() { offs.Close(); reg.Close() }
	nsAddr, stopNamesrv, err := startNamesrv(ctx, cfg.NamesrvListen, logger)
	if err != nil {
		closeState()
		_ = store.Close()
		return fmt.Errorf("serve: %w", err)
	}
	dl := newDelaySetup(cfg)
	stopRemoting, err := startRemoting(ctx, cfg, store, reg, offs, []string{nsAddr}, dl, logger)
	if err != nil {
		_ = stopNamesrv(context.Background())
		closeState()
		_ = store.Close()
		return fmt.Errorf("serve: %w", err)
	}
	stopKafka, err := startKafka(ctx, cfg, store, reg, offs, dl, logger)
	if err == nil {
		stopKafka, err = withDelay(ctx, dl, store, logger, stopKafka)
	}
	if err != nil {
		stopRemoting(context.Background())
		_ = stopNamesrv(context.Background())
		closeState()
		_ = store.Close()
		return fmt.Errorf("serve: %w", err)
	}
	logger.Warn("HTTP listeners not yet enabled", "http", cfg.HTTPAddr)

	<-ctx.Done()
	logger.Info("stopping", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.Background(), remotingStopTimeout)
	defer cancel()
	stopKafka(sctx)
	stopRemoting(sctx)
	_ = stopNamesrv(sctx)
	closeState()
	if err := store.Close(); err != nil {
		return fmt.Errorf("serve: close store %s: %w", cfg.storeDir(), err)
	}
	logger.Info("stopped")
	return nil
}

// runNamesrv is `twinmq namesrv`: a name server until ctx is done.
func runNamesrv(ctx context.Context, cfg Config, logger *slog.Logger) error {
	_, stop, err := startNamesrv(ctx, cfg.NamesrvListen, logger)
	if err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	<-ctx.Done()
	logger.Info("stopping", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.Background(), remotingStopTimeout)
	defer cancel()
	return stop(sctx)
}

// runBroker is `twinmq broker`: one broker that registers with every name
// server of namesrvAddr, until ctx is done.
func runBroker(ctx context.Context, cfg Config, logger *slog.Logger) error {
	addrs, err := cfg.namesrvAddrs()
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	store, err := storage.Open(ctx, cfg.storageConfig(logger))
	if err != nil {
		return fmt.Errorf("broker: open store %s: %w", cfg.storeDir(), err)
	}
	reg, offs, err := openBrokerState(ctx, store, logger)
	if err != nil {
		_ = store.Close()
		return fmt.Errorf("broker: %w", err)
	}
	dl := newDelaySetup(cfg)
	stopRemoting, err := startRemoting(ctx, cfg, store, reg, offs, addrs, dl, logger)
	if err == nil {
		stopRemoting, err = withDelay(ctx, dl, store, logger, stopRemoting)
	}
	if err != nil {
		offs.Close()
		reg.Close()
		_ = store.Close()
		return fmt.Errorf("broker: %w", err)
	}
	logger.Warn("Kafka, HA and HTTP listeners not yet enabled in broker",
		"kafka", cfg.KafkaAddr, "ha", cfg.HAAddr, "http", cfg.HTTPAddr)
	<-ctx.Done()
	logger.Info("stopping", "cause", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.Background(), remotingStopTimeout)
	defer cancel()
	stopRemoting(sctx)
	offs.Close()
	reg.Close()
	if err := store.Close(); err != nil {
		return fmt.Errorf("broker: close store %s: %w", cfg.storeDir(), err)
	}
	return nil
}
