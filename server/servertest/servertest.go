// Package servertest starts a real Beacon server in-process on a random
// loopback port with a temporary data directory, for tests of the server,
// the player and both together.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"beacon/media/worker"
	"beacon/server"
	"beacon/server/auth"
	"beacon/server/bus"
	"beacon/server/players"
	"beacon/server/store"
)

// Server is a running test server.
type Server struct {
	*server.Server
	URL     string // http://127.0.0.1:PORT
	Addr    string
	DataDir string
	OrgID   string
	Token   string // admin API token of OrgID
	t       testing.TB
	done    chan error
	stopped bool
}

// Options tune a test server.
type Options struct {
	DataDir        string // reuse a data dir (restart); default t.TempDir()
	Addr           string // listen address; default 127.0.0.1:0
	MaxUploadBytes int64
	MaxHeaderBytes int // request heads (zero: the server's default)
	// HTTP timeouts (zero: the server's defaults).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MediaWorker runs video and audio jobs (see Worker and WorkerMain);
	// nil refuses video and audio.
	MediaWorker server.MediaWorker
	// Accounts and pairing (zero: the server's defaults).
	SessionTTL      time.Duration
	PairingLifetime time.Duration
	TrustedProxies  []netip.Prefix
	// Players bounds unauthenticated player connections (zero: defaults).
	Players players.Limits
	// Overrides (zero: the server's defaults). Bus shares override
	// doorbells with other servers (of the same DataDir).
	Bus                bus.Bus
	OverrideAckTimeout time.Duration
	AlertWebhook       string
	StatusFlush        time.Duration
	// CAP intake sources (zero: the default push source).
	CAPSources       []server.CAPSource
	CAPAllowUnsigned bool
}

// Start runs a server until the test ends.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	if opt.DataDir == "" {
		opt.DataDir = t.TempDir()
	}
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:0"
	}
	level := slog.LevelWarn
	if os.Getenv("BEACON_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{DataDir: opt.DataDir, MaxUploadBytes: opt.MaxUploadBytes, Logger: log,
		MediaWorker: opt.MediaWorker, Encoding: worker.Options{Preset: "ultrafast", CRF: 28},
		SessionTTL: opt.SessionTTL, PairingLifetime: opt.PairingLifetime, TrustedProxies: opt.TrustedProxies,
		Players: opt.Players, Bus: opt.Bus, OverrideAckTimeout: opt.OverrideAckTimeout, AlertWebhook: opt.AlertWebhook,
		StatusFlush: opt.StatusFlush, MaxHeaderBytes: opt.MaxHeaderBytes,
		ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout, IdleTimeout: opt.IdleTimeout, CAPSources: opt.CAPSources, CAPAllowUnsigned: opt.CAPAllowUnsigned})
	if err != nil {
		t.Fatalf("servertest: new server: %v", err)
	}
	var ln net.Listener
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", opt.Addr)
		if err == nil || i > 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // a restarted server may wait for its old port
	}
	if err != nil {
		srv.Close()
		t.Fatalf("servertest: listen: %v", err)
	}
	s := &Server{Server: srv, URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), DataDir: opt.DataDir, t: t, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ln) }()
	s.OrgID, s.Token = s.NewOrg("Test org")
	t.Cleanup(s.Stop)
	return s
}

// NewOrg makes an organisation with an admin token.
func (s *Server) NewOrg(name string) (orgID, token string) {
	s.t.Helper()
	ctx := context.Background()
	orgs, err := s.Store().Orgs(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	var org store.Org
	if s.OrgID == "" && len(orgs) > 0 {
		org = orgs[0] // a restarted server keeps its organisation
	} else if org, err = s.Store().CreateOrg(ctx, name); err != nil {
		s.t.Fatal(err)
	}
	secret, hash := auth.NewToken(auth.APITokenPrefix)
	if _, err := s.Store().CreateToken(ctx, store.Token{OrgID: org.ID, Name: "test", Role: store.RoleAdmin}, hash); err != nil {
		s.t.Fatal(err)
	}
	return org.ID, secret
}

// Stop shuts the server down (idempotent).
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	<-s.done
}

// Do sends an API request with the admin token and decodes a JSON answer
// into out (if not nil); it returns the status code.
func (s *Server) Do(method, path string, body any, out any) int {
	return s.DoToken(s.Token, method, path, body, out)
}

// DoToken is Do with another token ("" sends none).
func (s *Server) DoToken(token, method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.send(req, out)
}

func (s *Server) send(req *http.Request, out any) int {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", req.Method, req.URL.Path, b, err)
		}
	}
	return resp.StatusCode
}

// Upload posts a file as multipart field "file" with the admin token.
func (s *Server) Upload(name string, data []byte, out any) int {
	s.t.Helper()
	return s.UploadToken(s.Token, name, data, out)
}

// UploadToken is Upload with another token.
func (s *Server) UploadToken(token, name string, data []byte, out any) int {
	s.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/media", &buf)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return s.send(req, out)
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Media is the API's view of a media item.
type Media struct {
	ID         string `json:"id"`
	SHA256     string `json:"sha256"`
	Status     string `json:"status"`
	Error      string `json:"error"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Renditions []struct {
		Profile string `json:"profile"`
		Width   int    `json:"width"`
		Height  int    `json:"height"`
		SHA256  string `json:"sha256"`
		URL     string `json:"url"`
	} `json:"renditions"`
}

// APIError is the API's error shape.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (e APIError) String() string { return fmt.Sprintf("%s: %s", e.Error.Code, e.Error.Message) }

// NewUser adds an account to orgID with a password (for sign-in tests)
// and returns its id.
func (s *Server) NewUser(orgID, username, role, password string) string {
	s.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		s.t.Fatal(err)
	}
	u, err := s.Store().CreateUser(context.Background(), store.User{OrgID: orgID, Username: username, PasswordHash: hash, Role: role})
	if err != nil {
		s.t.Fatal(err)
	}
	return u.ID
}
