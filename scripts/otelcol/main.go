// A minimal OpenTelemetry Collector for flowplane's OTLP export test: the Collector's own OTLP
// receiver (go.opentelemetry.io/collector/receiver/otlpreceiver, HTTP on -addr, protobuf and
// JSON) feeding a file exporter that appends each received batch of spans to -out as one line
// of OTLP JSON (the format of the contrib file exporter). Built by scripts/setup-otelcol.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4318", "OTLP/HTTP listen address")
	out := flag.String("out", "traces.jsonl", "file the received spans are appended to, one OTLP JSON batch a line")
	flag.Parse()

	f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelcol:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	marshaler := &ptrace.JSONMarshaler{}
	sink, err := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		b, err := marshaler.MarshalTraces(td)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if _, err := f.Write(append(b, '\n')); err != nil {
			return err
		}
		return f.Sync()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelcol:", err)
		os.Exit(1)
	}

	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	httpCfg := cfg.Protocols.HTTP.GetOrInsertDefault()
	httpCfg.ServerConfig.NetAddr.Endpoint = *addr
	cfg.Protocols.HTTP = configoptional.Some(*httpCfg)
	cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()

	ctx := context.Background()
	rcv, err := factory.CreateTraces(ctx, receivertest.NewNopSettings(factory.Type()), cfg, sink)
	if err == nil {
		err = rcv.Start(ctx, componenttest.NewNopHost())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "otelcol:", err)
		os.Exit(1)
	}
	fmt.Printf("otelcol: listening on %s, writing %s\n", *addr, *out)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	_ = rcv.Shutdown(ctx)
	_ = f.Close()
}
