package bus_test

import (
	"testing"

	"beacon/server/bus"
	"beacon/server/bus/bustest"
)

func localCluster(t *testing.T) func(opts ...bus.Option) bus.Bus {
	hub := bus.NewLocal()
	t.Cleanup(func() { hub.Close() })
	return func(opts ...bus.Option) bus.Bus {
		b := hub.Peer(opts...)
		t.Cleanup(func() { b.Close() })
		return b
	}
}

func TestLocalConformance(t *testing.T) { bustest.Run(t, localCluster) }
