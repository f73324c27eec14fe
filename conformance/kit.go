// Package conformance is the player conformance kit: a protocol-correct
// stand-in for beacon serve that a player under test connects to, and a
// script of scenarios (pairing and an expired code, pinned key, manifest
// versions, a bad signature, a tampered file, a download cut mid-file,
// reconnect and resume, binary and oversized frames, proof of play, a
// cached file changed on disk, overrides and their rendering, operating
// hours, unpair) that drive the player through protocol v1
// and judge what it sends back. Each check is a small function; the
// script is a table of them (script.go). Run reports every check as
// passed, failed (with the reason) or skipped.
//
// `beacon conformance player --listen ADDR` runs it; docs/protocol.md
// ("Conformance") says how a third party uses it.
package conformance

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
)

// The identity the kit gives the player under test.
const (
	DisplayID   = "kit-display"
	DisplayName = "Conformance kit"
	OrgID       = "kit-org"
)

// Options tune a Kit. Zero values take the defaults.
type Options struct {
	// Listen is the address to listen on (default 127.0.0.1:0).
	Listen string
	// StepTimeout bounds how long a check waits for the player (default
	// 45 s: longer than a 15 s heartbeat period twice over, and than the
	// 30 s backoff cap).
	StepTimeout time.Duration
	// PlayWindow is how long the proof-of-play scenario watches the
	// program play (default 15 s).
	PlayWindow time.Duration
	// Tolerance is how far a play record's start and end may lie from the
	// program's timeline (default 1 s: renderer paint latency and clock
	// skew between the kit and the player).
	Tolerance time.Duration
	// Log receives a line per scenario as it starts (may be nil).
	Log io.Writer
	// PlayerStatus is the URL of the player's local status document
	// (the reference player's GET /status), if it has one. With it the
	// kit also judges what the player says it shows: the pairing code,
	// the override on screen, the state after unpair. Empty: those checks
	// are skipped.
	PlayerStatus string
	// PlayerData is the player's data directory on this machine, if the
	// kit may change a cached file there (the cache-tampered scenario:
	// the kit finds the file by its SHA-256 and flips a byte). Empty: the
	// scenario is skipped.
	PlayerData string
}

func (o *Options) defaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 45 * time.Second
	}
	if o.PlayWindow <= 0 {
		o.PlayWindow = 15 * time.Second
	}
	if o.Tolerance <= 0 {
		o.Tolerance = time.Second
	}
}

// Kit is the stand-in server. Create it with New, point the player at
// URL, and call Run.
type Kit struct {
	opts     Options
	ln       net.Listener
	srv      *http.Server
	key      ed25519.PrivateKey
	pub      ed25519.PublicKey
	impostor ed25519.PrivateKey // signs the pinned-key scenario's challenge

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced whenever something is recorded
	conns        []*conn
	cur          *conn             // newest session past its handshake
	paired       bool              // the kit has claimed the player
	playerKey    ed25519.PublicKey // the paired player's key
	version      int64             // newest manifest the kit issued (correctly signed)
	current      protocol.SignedManifest
	issued       int64 // last version number handed out
	token        string
	code         string
	files        map[string][]byte // sha → bytes served (wrong bytes for a tampered file)
	cut          string            // sha whose first download from byte 0 is cut mid-file
	cutAt        int64             // bytes sent before the cut (0: not cut yet)
	downloads    []download
	frames       []frame // every frame received after the handshakes, in order
	incidents    []frame
	plays        map[string]protocol.PlayRecord
	impostorNext bool // the next handshake presents the impostor's key
}

type conn struct {
	n        int
	ws       *websocket.Conn
	wmu      sync.Mutex
	opened   time.Time
	hello    *protocol.Hello
	authSent bool   // the player answered the challenge with auth
	authOK   bool   // and the signature verified
	impostor bool   // the challenge was made under another key
	refusal  string // what the player sent instead of auth, if anything
	closed   time.Time
	peerCode int // close code the player sent, if it closed with one
}

type frame struct {
	conn int
	at   time.Time
	env  protocol.Envelope
}

type download struct {
	sha    string
	at     time.Time
	status int
	rng    string // the Range header, if any
	cut    bool   // the kit cut this response mid-file
}

// New starts a kit listening on opts.Listen.
func New(opts Options) (*Kit, error) {
	opts.defaults()
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	_, imp, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &Kit{opts: opts, ln: ln, key: priv, pub: pub, impostor: imp,
		changed: make(chan struct{}), files: map[string][]byte{}, plays: map[string]protocol.PlayRecord{}}
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.WSPath, k.serveWS)
	mux.HandleFunc("GET /player/v1/files/{sha}", k.serveFile)
	k.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.srv.Serve(ln) }()
	return k, nil
}

// SetPlayer names the player's status URL and data directory
// (Options.PlayerStatus and PlayerData) once they are known, before Run.
func (k *Kit) SetPlayer(statusURL, dataDir string) {
	k.opts.PlayerStatus, k.opts.PlayerData = statusURL, dataDir
}

// Addr is the address the kit listens on.
func (k *Kit) Addr() string { return k.ln.Addr().String() }

// URL is the base URL to give the player (--server).
func (k *Kit) URL() string { return "http://" + k.Addr() }

// Close stops the kit and drops every connection.
func (k *Kit) Close() error {
	k.mu.Lock()
	conns := append([]*conn(nil), k.conns...)
	k.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
	return k.srv.Close()
}

// notifyLocked wakes every waiter; call with k.mu held.
func (k *Kit) notifyLocked() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// wait polls cond (under k.mu) until it returns true or an error, or the
// step timeout passes.
func (k *Kit) wait(ctx context.Context, what string, cond func() (bool, error)) error {
	return k.waitFor(ctx, k.opts.StepTimeout, what, cond)
}

func (k *Kit) waitFor(ctx context.Context, d time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		k.mu.Lock()
		ok, err := cond()
		ch := k.changed
		k.mu.Unlock()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("timed out after %v waiting for %s", d, what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// addFile makes data downloadable under its own hash.
func (k *Kit) addFile(data []byte, contentType string) protocol.File {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	k.mu.Lock()
	k.files[sha] = data
	k.mu.Unlock()
	return protocol.File{SHA256: sha, Size: int64(len(data)), URL: "/player/v1/files/" + sha, Profile: "kit", ContentType: contentType}
}

// addTamperedFile lists a file under the hash of data but serves other
// bytes of the same size.
func (k *Kit) addTamperedFile(data []byte, contentType string) protocol.File {
	f := k.addFile(data, contentType)
	wrong := bytes.Clone(data)
	wrong[len(wrong)/2] ^= 0xff
	k.mu.Lock()
	k.files[f.SHA256] = wrong
	k.mu.Unlock()
	return f
}

func (k *Kit) serveFile(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	k.mu.Lock()
	data, ok := k.files[sha]
	good := k.token != "" && r.Header.Get("Authorization") == "Bearer "+k.token
	status := http.StatusOK
	switch {
	case !good:
		status = http.StatusUnauthorized
	case !ok:
		status = http.StatusNotFound
	}
	rng := r.Header.Get("Range")
	cut := status == http.StatusOK && sha == k.cut && k.cutAt == 0 && (rng == "" || strings.HasPrefix(rng, "bytes=0-"))
	if cut {
		k.cutAt = int64(len(data) / 2)
	}
	k.downloads = append(k.downloads, download{sha: sha, at: time.Now(), status: status, rng: rng, cut: cut})
	k.notifyLocked()
	k.mu.Unlock()
	if status != http.StatusOK {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("ETag", `"`+sha+`"`)
	w.Header().Set("Content-Type", "application/octet-stream")
	if cut {
		// The connection drops after half the file, as a flaky network
		// would: the player must resume with Range.
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data[:len(data)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

var upgrader = websocket.Upgrader{
	Subprotocols:    []string{protocol.Subprotocol},
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
}

func (k *Kit) serveWS(w http.ResponseWriter, r *http.Request) {
	offered := false
	for _, p := range websocket.Subprotocols(r) {
		offered = offered || p == protocol.Subprotocol
	}
	if !offered {
		http.Error(w, `{"error":{"code":"subprotocol","message":"offer Sec-WebSocket-Protocol: beacon.v1"}}`, http.StatusUpgradeRequired)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	k.mu.Lock()
	c := &conn{n: len(k.conns) + 1, ws: ws, opened: time.Now()}
	k.conns = append(k.conns, c)
	impostor := k.impostorNext
	k.impostorNext = false
	k.notifyLocked()
	k.mu.Unlock()
	defer func() {
		_ = ws.Close()
		k.mu.Lock()
		c.closed = time.Now()
		if k.cur == c {
			k.cur = nil
		}
		k.notifyLocked()
		k.mu.Unlock()
	}()
	if !k.handshake(c, impostor) {
		return
	}
	for {
		env, err := c.read(3 * time.Minute)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				k.mu.Lock()
				c.peerCode = ce.Code
				k.mu.Unlock()
			}
			return
		}
		k.handle(c, env)
	}
}

// read returns the next envelope; a binary frame or an undecodable one
// ends the connection (1003, or an error and 1008).
func (c *conn) read(timeout time.Duration) (protocol.Envelope, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		return protocol.Envelope{}, err
	}
	if mt != websocket.TextMessage {
		c.closeWith(websocket.CloseUnsupportedData, "frames must be JSON text")
		return protocol.Envelope{}, errors.New("binary frame")
	}
	env, err := protocol.Decode(data)
	if err != nil {
		eb := protocol.ErrorFor(err, env.ID)
		c.send(protocol.TypeError, eb)
		return env, err
	}
	return env, nil
}

func (c *conn) send(typ string, body any) (string, error) {
	env, err := protocol.New(typ, body)
	if err != nil {
		return "", err
	}
	b, err := protocol.Marshal(env)
	if err != nil {
		return "", err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return env.ID, c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *conn) closeWith(code int, reason string) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}

// handshake runs §4 steps 1–3 as the reference server does; impostor
// makes the challenge under another key (the pinned-key scenario).
func (k *Kit) handshake(c *conn, impostor bool) bool {
	env, err := c.read(10 * time.Second)
	if err != nil {
		return false
	}
	if env.Type != protocol.TypeHello {
		c.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeUnexpected, Message: "the first message must be hello", Ref: env.ID})
		c.closeWith(websocket.ClosePolicyViolation, "handshake refused")
		return false
	}
	var hello protocol.Hello
	if err := env.DecodeBody(&hello); err != nil {
		eb := protocol.ErrorFor(err, env.ID)
		c.send(protocol.TypeError, eb)
		c.closeWith(websocket.ClosePolicyViolation, "handshake refused")
		return false
	}
	k.mu.Lock()
	c.hello, c.impostor = &hello, impostor
	k.notifyLocked()
	k.mu.Unlock()
	nonce := make([]byte, 32)
	_, _ = rand.Read(nonce)
	signer := k.key
	if impostor {
		signer = k.impostor
	}
	ch := protocol.Challenge{Nonce: nonce, ServerKey: signer.Public().(ed25519.PublicKey), ServerTime: time.Now().UTC()}
	if len(hello.Nonce) == protocol.NonceSize {
		protocol.SignChallenge(signer, hello.PublicKey, hello.Nonce, &ch)
	}
	c.send(protocol.TypeChallenge, ch)
	env, err = c.read(10 * time.Second)
	if err != nil {
		return false
	}
	if env.Type != protocol.TypeAuth {
		var eb protocol.ErrorBody
		_ = env.DecodeBody(&eb)
		k.mu.Lock()
		c.refusal = strings.TrimSpace(env.Type + " " + eb.Code)
		k.notifyLocked()
		k.mu.Unlock()
		c.closeWith(websocket.ClosePolicyViolation, "handshake refused")
		return false
	}
	var a protocol.Auth
	_ = env.DecodeBody(&a)
	k.mu.Lock()
	c.authSent = true
	k.notifyLocked()
	k.mu.Unlock()
	if impostor {
		c.closeWith(websocket.ClosePolicyViolation, "impostor")
		return false
	}
	if err := protocol.VerifyAuth(ed25519.PublicKey(hello.PublicKey), ch, a); err != nil {
		c.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeAuthFailed, Message: "signature does not verify", Ref: env.ID})
		c.closeWith(websocket.ClosePolicyViolation, "handshake refused")
		return false
	}
	k.mu.Lock()
	k.token = randHex(16)
	token, version, current := k.token, k.version, k.current
	known := k.paired && bytes.Equal(k.playerKey, hello.PublicKey)
	if !known {
		k.code = strings.ToUpper(randHex(5))
	}
	code := k.code
	k.mu.Unlock()
	// The session becomes current (and the checks may send on it) only
	// after pairing or auth_ok and the initial manifest are on the wire:
	// a frame the kit sent before auth_ok would be one a conforming player
	// rightly refuses as unexpected.
	if !known {
		c.send(protocol.TypePairing, protocol.Pairing{Code: code, ExpiresAt: time.Now().Add(time.Hour).UTC()})
	} else {
		c.send(protocol.TypeAuthOK, protocol.AuthOK{DisplayID: DisplayID, Name: DisplayName, Token: token, ServerKey: k.pub, ManifestVersion: version, OrgID: OrgID})
		if version > hello.ManifestVersion {
			c.send(protocol.TypeManifest, current)
		}
	}
	k.mu.Lock()
	c.authOK = true
	k.cur = c
	k.notifyLocked()
	k.mu.Unlock()
	return true
}

// handle records a frame of a running session and answers it as the
// reference server does: incidents and proof of play are acknowledged.
func (k *Kit) handle(c *conn, env protocol.Envelope) {
	f := frame{conn: c.n, at: time.Now(), env: env}
	switch env.Type {
	case protocol.TypeIncident:
		var in protocol.Incident
		if err := env.DecodeBody(&in); err != nil {
			c.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeMalformed, Message: err.Error(), Ref: env.ID})
			break
		}
		k.mu.Lock()
		k.incidents = append(k.incidents, f)
		k.mu.Unlock()
		c.send(protocol.TypeAck, protocol.Ack{Ref: env.ID})
	case protocol.TypeProofOfPlay:
		var pop protocol.ProofOfPlay
		if err := env.DecodeBody(&pop); err != nil {
			c.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodeMalformed, Message: err.Error(), Ref: env.ID})
			break
		}
		k.mu.Lock()
		for _, r := range pop.Records {
			if _, ok := k.plays[r.ID]; !ok {
				k.plays[r.ID] = r
			}
		}
		k.mu.Unlock()
		c.send(protocol.TypeAck, protocol.Ack{Ref: env.ID})
	}
	k.mu.Lock()
	k.frames = append(k.frames, f)
	k.notifyLocked()
	k.mu.Unlock()
}

// session returns the current session or an error naming what is missing.
func (k *Kit) session() (*conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur == nil {
		return nil, errors.New("the player is not connected")
	}
	return k.cur, nil
}

// nextVersion hands out a manifest version above every one issued so far.
func (k *Kit) nextVersion() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.issued++
	return k.issued
}

// sendManifest signs m (with signer, the kit's key unless a test of a bad
// signature) and sends it; it returns the envelope id and when it was sent.
func (k *Kit) sendManifest(m protocol.Manifest, signer ed25519.PrivateKey) (string, time.Time, error) {
	c, err := k.session()
	if err != nil {
		return "", time.Time{}, err
	}
	sm, err := protocol.SignManifest(signer, m)
	if err != nil {
		return "", time.Time{}, err
	}
	if signer.Equal(k.key) {
		k.mu.Lock()
		if m.Version > k.version {
			k.version, k.current = m.Version, sm
		}
		k.mu.Unlock()
	}
	at := time.Now()
	id, err := c.send(protocol.TypeManifest, sm)
	return id, at, err
}

// reply waits for the player's ack or error whose ref is id.
func (k *Kit) reply(ctx context.Context, id, what string) (protocol.Envelope, error) {
	var got protocol.Envelope
	err := k.wait(ctx, "the player's ack or error for "+what, func() (bool, error) {
		for _, f := range k.frames {
			if f.env.Type != protocol.TypeAck && f.env.Type != protocol.TypeError {
				continue
			}
			var ref struct {
				Ref string `json:"ref"`
			}
			_ = f.env.DecodeBody(&ref)
			if ref.Ref == id {
				got = f.env
				return true, nil
			}
		}
		return false, nil
	})
	return got, err
}

// framesSince returns the frames of a type received at or after t.
func (k *Kit) framesSinceLocked(typ string, t time.Time) []frame {
	var out []frame
	for _, f := range k.frames {
		if f.env.Type == typ && !f.at.Before(t) {
			out = append(out, f)
		}
	}
	return out
}
