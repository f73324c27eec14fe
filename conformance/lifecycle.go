package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"beacon/protocol"
)

// The scenarios of a player's life outside the steady state: an expired
// pairing code, a download cut mid-file, an oversized frame, a cached file
// changed on disk, the override's rendering as the player reports it, and
// unpair.

// playerStatus is what the kit reads of the player's status document
// (Options.PlayerStatus; the reference player's GET /status).
type playerStatus struct {
	Paired      bool   `json:"paired"`
	PairingCode string `json:"pairing_code"`
	DisplayID   string `json:"display_id"`
	Override    *struct {
		ID           string    `json:"id"`
		Presentation string    `json:"presentation"`
		ShownAt      time.Time `json:"shown_at"`
	} `json:"override"`
}

var errNoStatus = skip("needs the player's status URL (--player-status)")

// status polls the player's status document until ok holds, for the step
// timeout; it returns the last document read.
func (r *run) status(ctx context.Context, what string, ok func(playerStatus) bool) (playerStatus, error) {
	var last playerStatus
	var lastErr error
	deadline := time.Now().Add(r.k.opts.StepTimeout)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.k.opts.PlayerStatus, nil)
		if err != nil {
			return last, err
		}
		resp, err := client.Do(req)
		if err == nil {
			var st playerStatus
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil {
				last, lastErr = st, nil
				if ok(st) {
					return st, nil
				}
			}
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				return last, fmt.Errorf("timed out waiting for %s (GET %s: %v)", what, r.k.opts.PlayerStatus, lastErr)
			}
			b, _ := json.Marshal(last)
			return last, fmt.Errorf("timed out waiting for %s; the player's status says %s", what, b)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return last, err
		}
	}
}

// --- pairing expired ---

func checkPairingExpired(ctx context.Context, r *run) error {
	c, err := r.k.session()
	if err != nil {
		return err
	}
	code := strings.ToUpper(randHex(5))
	r.k.mu.Lock()
	r.k.code = code
	r.k.mu.Unlock()
	r.code = code
	sent := time.Now()
	if _, err := c.send(protocol.TypeError, protocol.ErrorBody{Code: protocol.CodePairingExpired, Message: "conformance kit: the pairing code expired unclaimed"}); err != nil {
		return err
	}
	if _, err := c.send(protocol.TypePairing, protocol.Pairing{Code: code, ExpiresAt: time.Now().Add(time.Hour).UTC()}); err != nil {
		return err
	}
	return r.k.wait(ctx, "two heartbeats with state pairing on the same connection after the new code", func() (bool, error) {
		n := 0
		for _, f := range r.k.frames {
			if f.conn != c.n || f.at.Before(sent) {
				continue
			}
			switch f.env.Type {
			case protocol.TypeError:
				var eb protocol.ErrorBody
				_ = f.env.DecodeBody(&eb)
				return false, fmt.Errorf("the player answered pairing_expired or the new pairing with error %s (%s); an error is never answered, and the new pairing is expected", eb.Code, eb.Message)
			case protocol.TypeHeartbeat:
				var hb protocol.Heartbeat
				if f.env.DecodeBody(&hb) == nil && hb.State == protocol.StatePairing {
					n++
				}
			}
		}
		if n >= 2 {
			return true, nil
		}
		if !c.closed.IsZero() {
			return false, fmt.Errorf("the player closed the connection after pairing_expired (close code %d); the new pairing follows on the same connection", c.peerCode)
		}
		return false, nil
	})
}

func checkNewCodeShown(ctx context.Context, r *run) error {
	if r.k.opts.PlayerStatus == "" {
		return errNoStatus
	}
	_, err := r.status(ctx, "the new pairing code "+r.code+" in the player's status", func(st playerStatus) bool {
		return st.PairingCode == r.code
	})
	return err
}

// --- download resume ---

// noisePNG is a PNG of w×h pixels of pseudo-random colours (fixed seed):
// large enough that half of it is a real partial download.
func noisePNG(w, h int) []byte {
	rng := rand.New(rand.NewPCG(0xbeac07, 0x5e5a))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := rng.Uint32()
			img.Set(x, y, color.RGBA{R: byte(v), G: byte(v >> 8), B: byte(v >> 16), A: 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func checkCutManifest(ctx context.Context, r *run) error {
	r.resume = r.k.addFile(noisePNG(256, 256), "image/png")
	r.k.mu.Lock()
	r.k.cut = r.resume.SHA256
	r.k.mu.Unlock()
	files := []protocol.File{r.files[0], r.files[1], r.resume}
	return r.expectAck(ctx, r.manifest(r.k.nextVersion(), kitProgram(allDay, files...), files...))
}

// rangeStart reads the first byte position of a "bytes=N-" header; -1 if
// it is not one.
func rangeStart(h string) int64 {
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok {
		return -1
	}
	first, _, ok := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(first, 10, 64)
	if !ok || err != nil {
		return -1
	}
	return n
}

func checkRangeResume(ctx context.Context, r *run) error {
	sha := r.resume.SHA256
	return r.k.wait(ctx, "a download of "+sha+" that resumes with Range", func() (bool, error) {
		cut := false
		for _, d := range r.k.downloads {
			if d.sha != sha || d.status != http.StatusOK {
				continue
			}
			if d.cut {
				cut = true
				continue
			}
			if !cut {
				continue
			}
			switch n := rangeStart(d.rng); {
			case n <= 0:
				return false, fmt.Errorf("after the kit cut the download at byte %d, the player fetched the file again from byte 0 (Range %q) instead of resuming with Range: bytes=N-", r.k.cutAt, d.rng)
			case n > r.k.cutAt:
				return false, fmt.Errorf("the player resumed at byte %d, but only %d bytes were sent before the cut", n, r.k.cutAt)
			default:
				return true, nil
			}
		}
		return false, nil
	})
}

func checkResumedListed(ctx context.Context, r *run) error {
	sha := r.resume.SHA256
	if err := r.k.wait(ctx, "a file_list with the resumed file in have", func() (bool, error) {
		for _, f := range r.k.framesSinceLocked(protocol.TypeFileList, r.lastSent) {
			var fl protocol.FileList
			if f.env.DecodeBody(&fl) == nil && slices.Contains(fl.Have, sha) {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	for _, f := range r.k.incidents {
		var in protocol.Incident
		if !f.at.Before(r.lastSent) && f.env.DecodeBody(&in) == nil && in.SHA256 == sha {
			return fmt.Errorf("incident %s for the resumed file (%s): the two parts did not make the file", in.Kind, in.Message)
		}
	}
	return nil
}

// --- frame size ---

func checkOversizeClosed(ctx context.Context, r *run) error {
	c, err := r.k.session()
	if err != nil {
		return err
	}
	head := fmt.Sprintf(`{"type":"heartbeat","id":"%s","ts":"%s","body":{"pad":"`, randHex(8), time.Now().UTC().Format(time.RFC3339))
	frame := []byte(head + strings.Repeat("x", protocol.MaxFrameSize+1024-len(head)) + `"}}`)
	c.wmu.Lock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, frame)
	c.wmu.Unlock()
	r.reconn = c
	return r.k.wait(ctx, "the player to close the connection", func() (bool, error) {
		if c.closed.IsZero() {
			return false, nil
		}
		switch c.peerCode {
		case websocket.CloseMessageTooBig:
			return true, nil
		case 0:
			return false, fmt.Errorf("the connection ended without a close frame from the player after a %d-byte frame; want close 1009", len(frame))
		default:
			return false, fmt.Errorf("the player closed with %d after a %d-byte frame, want 1009", c.peerCode, len(frame))
		}
	})
}

func checkBackAfterOversize(ctx context.Context, r *run) error { return checkBackAfterBinary(ctx, r) }

// --- cache tampered ---

// findCached returns the file under dir whose content hashes to sha.
func findCached(dir string, f protocol.File) (string, error) {
	var found string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err != nil || fi.Size() != f.Size {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) == f.SHA256 {
			found = path
		}
		return nil
	})
	if err == nil && found == "" {
		err = fmt.Errorf("no file under %s holds %s (%d bytes)", dir, f.SHA256, f.Size)
	}
	return found, err
}

func checkCacheTampered(ctx context.Context, r *run) error {
	if r.k.opts.PlayerData == "" {
		return skip("needs the player's data directory (--player-data) to change a cached file")
	}
	if r.program == nil || len(r.files) == 0 {
		return errors.New("no program playing")
	}
	f := r.files[0]
	path, err := findCached(r.k.opts.PlayerData, f)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	data[len(data)/2] ^= 0x5a
	r.changed, r.changedAt = f, time.Now()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("change %s: %v", path, err)
	}
	later := r.changedAt.Add(2 * time.Second)
	_ = os.Chtimes(path, later, later)
	in, err := r.incident(ctx, protocol.IncidentCacheTampered, r.changedAt)
	if err != nil {
		return fmt.Errorf("%v (the kit changed one byte of %s, the cached %s, which the program shows every few seconds)", err, path, f.SHA256)
	}
	if in.SHA256 != f.SHA256 {
		return fmt.Errorf("cache_tampered names sha256 %q, want %s", in.SHA256, f.SHA256)
	}
	return nil
}

// errNotChanged skips the checks that follow a cache change not made.
var errNotChanged = skip("no cached file was changed")

func checkTamperedRefetched(ctx context.Context, r *run) error {
	if r.changed.SHA256 == "" {
		return errNotChanged
	}
	sha := r.changed.SHA256
	if err := r.k.wait(ctx, "a new download of "+sha, func() (bool, error) {
		for _, d := range r.k.downloads {
			if d.sha == sha && d.status == http.StatusOK && d.at.After(r.changedAt) {
				r.refetched = d.at
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	return r.k.wait(ctx, "a file_list listing "+sha+" as held again", func() (bool, error) {
		for _, f := range r.k.framesSinceLocked(protocol.TypeFileList, r.refetched) {
			var fl protocol.FileList
			if f.env.DecodeBody(&fl) == nil && slices.Contains(fl.Have, sha) {
				return true, nil
			}
		}
		return false, nil
	})
}

func checkChangedNotShown(ctx context.Context, r *run) error {
	if r.changed.SHA256 == "" {
		return errNotChanged
	}
	sha := r.changed.SHA256
	from, to := r.changedAt.Add(r.k.opts.Tolerance), r.refetched
	// Plays are recorded when they end: give those of the window time to come.
	if err := sleep(ctx, r.k.opts.Tolerance+3*time.Second); err != nil {
		return err
	}
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	for _, p := range r.k.plays {
		if p.SHA256 == sha && p.Start.After(from) && p.Start.Before(to) {
			return fmt.Errorf("record %s: %s was shown from %s, after it changed on disk (%s) and before it was downloaded again (%s)", p.ID, sha, stamp(p.Start), stamp(r.changedAt), stamp(to))
		}
	}
	for _, f := range r.k.framesSinceLocked(protocol.TypeHeartbeat, from) {
		var hb protocol.Heartbeat
		if f.env.DecodeBody(&hb) == nil && hb.NowPlaying != nil && hb.NowPlaying.SHA256 == sha &&
			hb.NowPlaying.StartedAt.After(from) && hb.NowPlaying.StartedAt.Before(to) {
			return fmt.Errorf("heartbeat at %s shows %s, started %s: after it changed on disk and before it was downloaded again", stamp(f.at), sha, stamp(hb.NowPlaying.StartedAt))
		}
	}
	return nil
}

// --- override rendering ---

func checkOverrideStatus(ctx context.Context, r *run) error {
	if r.k.opts.PlayerStatus == "" {
		return errNoStatus
	}
	st, err := r.status(ctx, "the override "+kitOverride+" in the player's status", func(st playerStatus) bool {
		return st.Override != nil && st.Override.ID == kitOverride
	})
	if err != nil {
		return err
	}
	if st.Override.Presentation != protocol.PresentFullscreen {
		return fmt.Errorf("the status shows the override as %q, it is %q", st.Override.Presentation, protocol.PresentFullscreen)
	}
	if st.Override.ShownAt.IsZero() {
		return errors.New("the status shows the override without shown_at")
	}
	return nil
}

func checkOverrideStatusCleared(ctx context.Context, r *run) error {
	if r.k.opts.PlayerStatus == "" {
		return errNoStatus
	}
	_, err := r.status(ctx, "no override in the player's status after the cancel", func(st playerStatus) bool {
		return st.Override == nil
	})
	return err
}

// --- unpair ---

func (r *run) sendUnpair(ctx context.Context, signedByKit bool) (*conn, protocol.Envelope, error) {
	c, err := r.k.session()
	if err != nil {
		return nil, protocol.Envelope{}, err
	}
	signer := r.k.impostor
	if signedByKit {
		signer = r.k.key
	}
	u := protocol.SignUnpair(signer, DisplayID, c.hello.PublicKey, c.hello.Nonce, time.Now())
	r.lastSent = time.Now()
	id, err := c.send(protocol.TypeUnpair, u)
	if err != nil {
		return c, protocol.Envelope{}, err
	}
	env, err := r.k.reply(ctx, id, "unpair")
	return c, env, err
}

func checkForgedUnpair(ctx context.Context, r *run) error {
	_, env, err := r.sendUnpair(ctx, false)
	if err != nil {
		return err
	}
	if env.Type == protocol.TypeAck {
		return errors.New("the player acknowledged an unpair whose signature does not verify with the pinned key; want error bad_signature")
	}
	var eb protocol.ErrorBody
	_ = env.DecodeBody(&eb)
	if eb.Code != protocol.CodeBadSignature {
		return fmt.Errorf("a forged unpair was answered with error %s (%s), want bad_signature", eb.Code, eb.Message)
	}
	if _, err := r.incident(ctx, protocol.IncidentBadSignature, r.lastSent); err != nil {
		return err
	}
	hb, err := r.heartbeat(ctx, time.Now(), "a heartbeat after the forged unpair", func(protocol.Heartbeat) bool { return true })
	if err != nil {
		return err
	}
	if hb.State == protocol.StatePairing || hb.ManifestVersion != r.applied {
		return fmt.Errorf("after a forged unpair the heartbeat says state %s, manifest_version %d; want the player unchanged (manifest %d)", hb.State, hb.ManifestVersion, r.applied)
	}
	return nil
}

func checkSignedUnpair(ctx context.Context, r *run) error {
	c, env, err := r.sendUnpair(ctx, true)
	if err != nil {
		return err
	}
	if env.Type != protocol.TypeAck {
		var eb protocol.ErrorBody
		_ = env.DecodeBody(&eb)
		return fmt.Errorf("the player refused an unpair signed with the pinned key for its display, key and hello nonce: error %s (%s)", eb.Code, eb.Message)
	}
	// As the reference server does: the display is gone, the session ends.
	r.k.mu.Lock()
	r.k.paired, r.k.playerKey = false, nil
	r.k.version, r.k.current = 0, protocol.SignedManifest{}
	r.k.mu.Unlock()
	r.unpairConn = c
	c.closeWith(websocket.ClosePolicyViolation, "display deleted")
	return nil
}

func checkBackToPairing(ctx context.Context, r *run) error {
	if r.unpairConn == nil {
		return errors.New("no unpair to judge")
	}
	c, err := r.nextConn(ctx, r.unpairConn.n, "the player to reconnect after unpair")
	if err != nil {
		return err
	}
	if c.hello.DisplayID != "" {
		return fmt.Errorf("hello after unpair still names display %q; the player forgets its display id", c.hello.DisplayID)
	}
	if c.hello.ManifestVersion != 0 {
		return fmt.Errorf("hello after unpair still claims manifest version %d; the player forgets its manifest", c.hello.ManifestVersion)
	}
	if _, err := r.heartbeat(ctx, c.opened, "a heartbeat with state pairing after unpair", func(hb protocol.Heartbeat) bool {
		return hb.State == protocol.StatePairing && hb.ManifestVersion == 0
	}); err != nil {
		r.k.mu.Lock()
		defer r.k.mu.Unlock()
		for _, f := range r.k.incidents {
			var in protocol.Incident
			if f.at.After(r.lastSent) && f.env.DecodeBody(&in) == nil && in.Kind == protocol.IncidentUnexpectedPairing {
				return errors.New("the player refused pairing after a verified unpair (incident unexpected_pairing): it kept the pinned key")
			}
		}
		return err
	}
	if r.k.opts.PlayerStatus == "" {
		return nil
	}
	_, err = r.status(ctx, "the player's status to show it unpaired with a pairing code", func(st playerStatus) bool {
		return !st.Paired && st.DisplayID == "" && st.PairingCode != ""
	})
	return err
}
