// Package server is everything that runs in `beacon serve`: the HTTP API,
// player sessions, storage, renditions and manifests, wired together in one
// place (New). Sub-packages own one domain noun each: store (persistent
// state), players (protocol v1 sessions), auth (tokens, passwords, keys).
package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"beacon/media"
	"beacon/media/worker"
	"beacon/server/auth"
	"beacon/server/players"
	"beacon/server/store"
)

// DefaultMaxUpload is the default upload size limit (2 GiB).
const DefaultMaxUpload int64 = 2 << 30

// DefaultTimezone is used for displays until clusters carry their own.
const DefaultTimezone = "Asia/Ho_Chi_Minh"

// Config configures a server.
type Config struct {
	DataDir        string // database, signing key, media store
	MaxUploadBytes int64  // per upload; default DefaultMaxUpload
	ImageLimits    media.Limits
	Logger         *slog.Logger
	// MediaWorker transcodes video and audio in a supervised subprocess;
	// nil refuses video and audio uploads.
	MediaWorker MediaWorker
	Encoding    worker.Options // libx264 preset, CRF, loudness target…
	// PrefetchDays is how far ahead manifests list the files displays
	// need; default DefaultPrefetchDays.
	PrefetchDays int
}

// Server is one `beacon serve` instance.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	blobs  *media.Store
	key    ed25519.PrivateKey
	hub    *players.Hub
	app    *fiber.App
	reg    *prometheus.Registry
	m      metrics
	work   *workQueue
	jobs   *jobRunner
	events *events
	compMu sync.Mutex // serialises manifest compilation

	bg     context.Context
	stopBG context.CancelFunc
	bgDone sync.WaitGroup
}

type metrics struct {
	uploads    *prometheus.CounterVec
	renditions prometheus.Histogram
	requests   *prometheus.CounterVec
}

// New builds a server from its parts: the one composition root.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: data directory is required")
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = DefaultMaxUpload
	}
	if cfg.ImageLimits.MaxPixels == 0 {
		cfg.ImageLimits = media.DefaultLimits
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PrefetchDays <= 0 {
		cfg.PrefetchDays = DefaultPrefetchDays
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	blobs, err := media.OpenStore(filepath.Join(cfg.DataDir, "media"))
	if err != nil {
		st.Close()
		return nil, err
	}
	key, err := auth.LoadOrCreateSigningKey(filepath.Join(cfg.DataDir, "server.key"))
	if err != nil {
		st.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		cfg: cfg, log: cfg.Logger, store: st, blobs: blobs, key: key, reg: reg,
		hub: players.New(st, key, cfg.Logger, reg),
		m: metrics{
			uploads:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_uploads_total", Help: "Media uploads by outcome."}, []string{"outcome"}),
			renditions: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "beacon_image_rendition_seconds", Help: "Time to render one image for every needed profile.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
			requests:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "beacon_http_requests_total", Help: "HTTP requests by status class."}, []string{"class"}),
		},
	}
	reg.MustRegister(s.m.uploads, s.m.renditions, s.m.requests)
	s.bg, s.stopBG = context.WithCancel(context.Background())
	s.work = newWorkQueue()
	s.events = newEvents()
	s.jobs = newJobRunner(s)
	s.app = s.routes()
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.renditionWorker()
	}()
	// Resume any work a previous run left unfinished.
	orgs, err := st.Orgs(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	// Tokens of sessions a killed server could not end.
	if err := st.PruneDisplayTokens(ctx, 30*24*time.Hour); err != nil {
		s.log.Warn("prune display tokens", "err", err)
	}
	s.jobs.start()
	for _, o := range orgs {
		s.work.kick(o.ID)
	}
	s.bgDone.Add(1)
	go func() {
		defer s.bgDone.Done()
		s.hourly()
	}()
	return s, nil
}

// Store exposes the store to the CLI and tests.
func (s *Server) Store() *store.Store { return s.store }

// PublicKey is the server's manifest-signing key.
func (s *Server) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// App exposes the HTTP application (tests use app.Test).
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("beacon serving", "addr", ln.Addr().String(), "data", s.cfg.DataDir)
	return s.app.Listener(ln)
}

// Shutdown stops accepting requests, closes player sessions, waits for
// in-flight requests (up to ctx) and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.Close()
	err := s.app.ShutdownWithContext(ctx)
	s.Close()
	return err
}

// Close releases background work and the store without touching HTTP.
func (s *Server) Close() {
	s.stopBG()
	s.work.close()
	s.bgDone.Wait()
	s.store.Close()
}

// hourly moves every display's prefetch window forward: a manifest changes
// only if the set of files it needs does.
func (s *Server) hourly() {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-t.C:
			orgs, err := s.store.Orgs(s.bg)
			if err != nil {
				continue
			}
			for _, o := range orgs {
				s.work.kick(o.ID)
			}
		}
	}
}

func (s *Server) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.bg, 30*time.Second)
}
