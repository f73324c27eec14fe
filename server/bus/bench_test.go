package bus_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"beacon/server/bus"
	"beacon/server/bus/bustest"
)

// BenchmarkLatency measures publish → receive on another server's Bus, one
// message in flight at a time, and reports the percentiles:
//
//	go test -run '^$' -bench Latency -benchtime 5000x ./server/bus/
func BenchmarkLatency(b *testing.B) {
	b.Run("local", func(b *testing.B) {
		hub := bus.NewLocal()
		defer hub.Close()
		benchLatency(b, hub, hub.Peer())
	})
	b.Run("redis", func(b *testing.B) {
		url, prefix := redisURL(b), uniquePrefix(b)
		benchLatency(b, newRedis(b, url, bus.WithPrefix(prefix)), newRedis(b, url, bus.WithPrefix(prefix)))
	})
}

func benchLatency(b *testing.B, pub, sub bus.Bus) {
	s, err := sub.Subscribe(context.Background(), "latency")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	bustest.WaitReady(b, s)
	payload := make([]byte, 200) // about an override doorbell: ids and a version
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := pub.Publish(context.Background(), "latency", payload); err != nil {
			b.Fatal(err)
		}
		bustest.NextMessage(b, s)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
