package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// beacon override send|cancel|list: the emergency override API from the
// command line (the same HTTP API as any other client).

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type apiClient struct {
	server, token string
	http          *http.Client
}

func clientFlags(fs *flag.FlagSet) (server, token *string) {
	server = fs.String("server", os.Getenv("BEACON_SERVER"), "server URL, e.g. https://beacon.example.org (or $BEACON_SERVER)")
	token = fs.String("token", "", "API token with the admin or authority role (or $BEACON_TOKEN)")
	return
}

func newAPIClient(server, token string) (*apiClient, error) {
	if token == "" {
		token = os.Getenv("BEACON_TOKEN")
	}
	if server == "" || token == "" {
		return nil, errors.New("--server and --token are required")
	}
	return &apiClient{server: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do calls the API and returns the answer's body; an error answer becomes
// an error with the server's message.
func (c *apiClient) do(method, path string, body []byte, hdr map[string]string) ([]byte, error) {
	req, err := http.NewRequest(method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil && hdr["Content-Type"] == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return b, nil
}

func printJSON(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		_, err = w.Write(b)
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

func overrideCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: beacon override send|cancel|list --server URL --token T …")
	}
	switch args[0] {
	case "send":
		return overrideSend(args[1:], stdin, stdout)
	case "cancel":
		fs := flag.NewFlagSet("override cancel", flag.ContinueOnError)
		fs.SetOutput(stderr)
		server, token := clientFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: beacon override cancel --server URL --token T ID")
		}
		c, err := newAPIClient(*server, *token)
		if err != nil {
			return err
		}
		b, err := c.do("POST", "/api/v1/overrides/"+fs.Arg(0)+"/cancel", nil, nil)
		if err != nil {
			return err
		}
		return printJSON(stdout, b)
	case "list":
		fs := flag.NewFlagSet("override list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		server, token := clientFlags(fs)
		active := fs.Bool("active", false, "only overrides not expired and not cancelled")
		dels := fs.String("deliveries", "", "list the deliveries of this override instead")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		c, err := newAPIClient(*server, *token)
		if err != nil {
			return err
		}
		path, field := "/api/v1/overrides", "overrides"
		if *active {
			path += "?active=true"
		}
		if *dels != "" {
			path, field = "/api/v1/overrides/"+*dels+"/deliveries", "deliveries"
		}
		return listAll(c, path, field, stdout)
	}
	return fmt.Errorf("unknown override command %q: want send, cancel or list", args[0])
}

// listAll follows next_cursor and prints every entry as one JSON array.
func listAll(c *apiClient, path, field string, stdout io.Writer) error {
	var all []json.RawMessage
	cursor := ""
	for {
		p := path
		if cursor != "" {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			p += sep + "cursor=" + cursor
		}
		b, err := c.do("GET", p, nil, nil)
		if err != nil {
			return err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("GET %s: %w", p, err)
		}
		var items []json.RawMessage
		_ = json.Unmarshal(page[field], &items)
		all = append(all, items...)
		_ = json.Unmarshal(page["next_cursor"], &cursor)
		if cursor == "" {
			break
		}
	}
	b, _ := json.Marshal(map[string]any{field: all})
	return printJSON(stdout, b)
}

func overrideSend(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("override send", flag.ContinueOnError)
	server, token := clientFlags(fs)
	body := fs.String("body", "", "send this JSON request body as it is (a file, or - for standard input) instead of the flags below")
	level := fs.String("level", "critical", "info, warning or critical")
	pres := fs.String("presentation", "fullscreen", "fullscreen, banner, blank or slate (blank and slate are the kill switch)")
	position := fs.String("position", "", "banners: top or bottom")
	var texts, clusters, displays, tags, media listFlag
	fs.Var(&texts, "text", "LANG=TEXT, once per language (vi=…, en=…)")
	fs.Var(&clusters, "cluster", "target a cluster (repeatable)")
	fs.Var(&displays, "display", "target a display (repeatable)")
	fs.Var(&tags, "tag", "target displays with a tag (repeatable)")
	fs.Var(&media, "media", "media item id to show or play (repeatable)")
	all := fs.Bool("all", false, "target every display of the organisation")
	circle := fs.String("circle", "", "target displays within LAT,LON,RADIUS_KM")
	expires := fs.Duration("expires", time.Hour, "how long it lasts")
	starts := fs.String("starts", "", "when it starts (RFC 3339); default now")
	idem := fs.String("idempotency-key", "", "retrying with the same key returns the same override")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newAPIClient(*server, *token)
	if err != nil {
		return err
	}
	var raw []byte
	if *body != "" {
		if *body == "-" {
			raw, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			raw, err = os.ReadFile(*body)
		}
		if err != nil {
			return err
		}
	} else {
		req := map[string]any{"level": *level, "presentation": *pres, "expires_in_s": expires.Seconds()}
		if *position != "" {
			req["position"] = *position
		}
		if len(texts) > 0 {
			t := map[string]string{}
			for _, kv := range texts {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--text %q: want LANG=TEXT", kv)
				}
				t[k] = v
			}
			req["text"] = t
		}
		if len(media) > 0 {
			req["media"] = media
		}
		targets := map[string]any{}
		if *all {
			targets["all"] = true
		}
		if len(clusters) > 0 {
			targets["clusters"] = clusters
		}
		if len(displays) > 0 {
			targets["displays"] = displays
		}
		if len(tags) > 0 {
			targets["tags"] = tags
		}
		if *circle != "" {
			f := strings.Split(*circle, ",")
			if len(f) != 3 {
				return fmt.Errorf("--circle %q: want LAT,LON,RADIUS_KM", *circle)
			}
			var v [3]float64
			for i := range f {
				if v[i], err = strconv.ParseFloat(strings.TrimSpace(f[i]), 64); err != nil {
					return fmt.Errorf("--circle %q: want LAT,LON,RADIUS_KM", *circle)
				}
			}
			targets["area"] = map[string]any{"circle": map[string]float64{"lat": v[0], "lon": v[1], "radius_km": v[2]}}
		}
		if len(targets) == 0 {
			return errors.New("name the targets: --all, --cluster, --display, --tag or --circle")
		}
		req["targets"] = targets
		if *starts != "" {
			t, err := time.Parse(time.RFC3339, *starts)
			if err != nil {
				return fmt.Errorf("--starts: %w", err)
			}
			req["starts_at"] = t
		}
		raw, _ = json.Marshal(req)
	}
	hdr := map[string]string{}
	if *idem != "" {
		hdr["Idempotency-Key"] = *idem
	}
	b, err := c.do("POST", "/api/v1/overrides", raw, hdr)
	if err != nil {
		return err
	}
	return printJSON(stdout, b)
}
