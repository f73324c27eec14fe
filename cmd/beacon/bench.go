package main

import (
	"errors"
	"flag"
	"io"

	"beacon/playlists"
)

const benchUsage = `usage: beacon bench timeline [--displays N --days D --schedules S --items I]
       beacon bench video`

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
	}
	return errors.New(benchUsage)
}
