package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// errNotImplemented is returned by the commands whose servers do not exist yet.
var errNotImplemented = errors.New("not implemented yet")

// run is `twinmq serve`: it runs until ctx is done, then shuts down cleanly.
//
// TODO(storage): open the store with storage.Open(ctx, cfg.storageConfig(logger))
// as soon as the storage package has it.
func run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	logger.Info("twinmq serve starting",
		"store", cfg.storeDir(),
		"flushDiskType", cfg.FlushDiskType,
		"flushIntervalMs", cfg.FlushIntervalMs,
		"segmentSize", cfg.SegmentSize)
	logger.Warn("store and listeners not yet enabled; no client can connect",
		"kafka", cfg.KafkaAddr,
		"remoting", cfg.RemotingAddr,
		"namesrv", cfg.NamesrvListen,
		"http", cfg.HTTPAddr,
		"advertisedHost", cfg.AdvertisedHost)
	<-ctx.Done()
	logger.Info("twinmq serve stopped", "cause", context.Cause(ctx))
	return nil
}

// runNamesrv is `twinmq namesrv`.
func runNamesrv(_ context.Context, cfg Config, logger *slog.Logger) error {
	logger.Info("twinmq namesrv",
		"namesrv", cfg.NamesrvListen,
		"http", cfg.HTTPAddr)
	return fmt.Errorf("namesrv: %w", errNotImplemented)
}

// runBroker is `twinmq broker`.
func runBroker(_ context.Context, cfg Config, logger *slog.Logger) error {
	addrs, err := cfg.namesrvAddrs()
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	logger.Info("twinmq broker",
		"store", cfg.storeDir(),
		"flushDiskType", cfg.FlushDiskType,
		"kafka", cfg.KafkaAddr,
		"remoting", cfg.RemotingAddr,
		"ha", cfg.HAAddr,
		"http", cfg.HTTPAddr,
		"advertisedHost", cfg.AdvertisedHost,
		"namesrvAddr", addrs)
	return fmt.Errorf("broker: %w", errNotImplemented)
}
