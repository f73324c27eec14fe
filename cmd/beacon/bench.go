package main

import (
	"errors"
	"flag"
	"io"
	"os"

	"beacon/playlists"
)

const benchUsage = `usage: beacon bench timeline [--displays N --days D --schedules S --items I]
       beacon bench video
       beacon bench fanout --players N [--overrides K] [--clients-procs P] [--timeout 5m] [--baseline]
       beacon bench broadcast --players N [--messages K] [--size BYTES]`

func bench(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(benchUsage)
	}
	switch args[0] {
	case "timeline":
		fs := flag.NewFlagSet("bench timeline", flag.ContinueOnError)
		displays := fs.Int("displays", 1000, "displays in the fleet")
		days := fs.Int("days", 7, "days of timeline per display")
		schedules := fs.Int("schedules", 200, "schedules")
		items := fs.Int("items", 2000, "items")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return playlists.RunTimelineBench(stdout, *displays, *days, *schedules, *items)
	case "video":
		return benchVideo(args[1:], stdout)
	case "fanout":
		return benchFanout(args[1:], stdout)
	case "broadcast": // the plain fiber + contrib/websocket baseline of fanout
		return benchBroadcast(args[1:], stdout)
	case "broadcast-server": // the baseline's server, in a child process
		return broadcastServerCmd(args[1:])
	case "broadcast-clients": // the baseline's clients, in a child process
		return broadcastClientsCmd(args[1:], os.Stdin, stdout)
	case "fanout-clients": // the simulated players of fanout, in a child process
		return fanoutClientsCmd(args[1:], os.Stdin, stdout)
	}
	return errors.New(benchUsage)
}
