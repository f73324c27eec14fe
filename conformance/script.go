package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"sort"
	"time"

	"github.com/gorilla/websocket"

	"beacon/playlists"
	"beacon/protocol"
)

// A scenario is a named list of checks run in order on one player. needs
// names a capability (protocol.Cap…) the player must announce in hello;
// without it every check is skipped ("not announced").
type scenario struct {
	name   string
	needs  string
	fatal  bool // when a check fails, nothing after this scenario runs
	checks []check
}

// A check is one judged step. It returns nil (passed), an error (failed,
// the error is the reason) or a skip.
type check struct {
	name string
	run  func(ctx context.Context, r *run) error
}

// skip marks a check as skipped with a reason.
type skip string

func (s skip) Error() string { return string(s) }

// script is the conformance run, in order: later scenarios rely on the
// state earlier ones leave (a paired player holding the files).
var script = []scenario{
	{name: "pairing", fatal: true, checks: []check{
		{"hello is protocol v1 with a key and a nonce", checkHello},
		{"auth signs the challenge with the hello key", checkAuth},
		{"heartbeat reports pairing while the code is shown", checkPairingHeartbeat},
	}},
	{name: "pairing expired", checks: []check{
		{"pairing_expired and a new code keep the connection open", checkPairingExpired},
		{"the new code is shown", checkNewCodeShown},
	}},
	{name: "claim", fatal: true, checks: []check{
		{"paired is accepted (the kit claims the code itself)", checkPaired},
	}},
	{name: "manifest versions", checks: []check{
		{"a newer manifest is applied and acknowledged", checkNewerManifest},
		{"its files are downloaded with the session token and listed", checkFilesListed},
		{"an equal version is refused with stale_manifest", checkEqualVersion},
		{"an older version is refused with stale_manifest", checkOlderVersion},
	}},
	{name: "bad signature", checks: []check{
		{"a manifest signed by another key is refused with bad_signature", checkBadSignature},
		{"a bad_signature incident is reported", checkBadSignatureIncident},
		{"the previous manifest is kept", checkKeptManifest},
	}},
	{name: "tampered file", checks: []check{
		{"the manifest listing it is applied", checkTamperedManifest},
		{"a hash_mismatch incident names the file and the manifest", checkHashMismatch},
		{"the file is never listed as held nor shown", checkTamperedNotShown},
	}},
	{name: "download resume", checks: []check{
		{"a manifest whose file download the kit cuts mid-file is applied", checkCutManifest},
		{"the download resumes with Range from the bytes held", checkRangeResume},
		{"the resumed file is verified and listed as held", checkResumedListed},
	}},
	{name: "reconnect and resume", checks: []check{
		{"the player reconnects after the kit drops the connection", checkReconnect},
		{"hello resumes with the applied manifest version", checkResume},
	}},
	{name: "pinned key", checks: []check{
		{"a challenge under another key is refused without signing", checkImpostorRefused},
		{"the player comes back to the pinned server", checkBackToPinned},
		{"a server_key_mismatch incident is reported", checkKeyMismatchIncident},
	}},
	{name: "binary frame", checks: []check{
		{"a binary frame from the server is closed with 1003", checkBinaryClosed},
		{"the player reconnects and authenticates", checkBackAfterBinary},
	}},
	{name: "frame size", checks: []check{
		{"a frame over 1 MiB from the server is closed with 1009", checkOversizeClosed},
		{"the player reconnects and authenticates", checkBackAfterOversize},
	}},
	{name: "proof of play", checks: []check{
		{"the program manifest is applied", checkProgramManifest},
		{"play records arrive and are acknowledged", checkPlaysArrive},
		{"the records match the program's timeline", checkPlaysMatch},
	}},
	{name: "cache tampered", checks: []check{
		{"a cached file changed on disk is reported as cache_tampered", checkCacheTampered},
		{"it is downloaded again and verified", checkTamperedRefetched},
		{"the changed file is never shown", checkChangedNotShown},
	}},
	{name: "overrides", needs: protocol.CapOverride, checks: []check{
		{"a signed override is acknowledged received", checkOverrideReceived},
		{"it is acknowledged painted", checkOverridePainted},
		{"the player's status shows it on screen", checkOverrideStatus},
		{"override_cancel is acknowledged ended", checkOverrideEnded},
		{"the player's status shows no override after the cancel", checkOverrideStatusCleared},
	}},
	{name: "operating hours", checks: []check{
		{"a program whose hours exclude now is applied", checkClosedManifest},
		{"the screen is off outside operating hours", checkScreenOff},
		{"nothing is played outside operating hours", checkNothingPlayed},
	}},
	{name: "unpair", checks: []check{
		{"an unpair signed by another key is refused with bad_signature", checkForgedUnpair},
		{"a signed unpair is acknowledged", checkSignedUnpair},
		{"the player returns to pairing and keeps nothing of the old identity", checkBackToPairing},
	}},
}

// run is the state one conformance run carries between checks.
type run struct {
	k          *Kit
	files      []protocol.File // the two good images
	tampered   protocol.File
	applied    int64 // the newest version the player acknowledged
	lastID     string
	lastSent   time.Time
	lastVer    int64
	lastErr    protocol.ErrorBody
	claimedAt  time.Time
	dropAt     time.Time
	reconn     *conn
	program    *playlists.Program
	appliedAt  time.Time
	overrideAt time.Time
	hoursNote  string
	code       string        // the pairing code of the pairing-expired scenario
	resume     protocol.File // the file whose download is cut
	changed    protocol.File // the cached file changed on disk
	changedAt  time.Time     // when the kit changed it
	refetched  time.Time     // when the player fetched it again
	unpairConn *conn         // the session the signed unpair went on
}

func pngOf(seed byte) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			img.Set(x, y, color.RGBA{R: byte(x * 16), G: byte(y * 16), B: seed, A: 255})
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

// kitProgram is a small program: one full-screen schedule looping items
// of 2 s and 3 s over files, inside hours (UTC).
func kitProgram(hours []playlists.Window, files ...protocol.File) *playlists.Program {
	p := &playlists.Program{
		Display:   playlists.Display{ID: DisplayID, Width: 640, Height: 360},
		Timezone:  "UTC",
		Hours:     hours,
		Playlists: []playlists.Playlist{{ID: "kit-loop", Transition: playlists.Transition{Kind: "cut"}}},
		Layouts:   []playlists.Layout{},
		Schedules: []playlists.Schedule{{ID: "kit-schedule", Target: playlists.Target{DisplayIDs: []string{DisplayID}},
			Content: playlists.Content{PlaylistID: "kit-loop"}, Priority: 1}},
	}
	for i, f := range files {
		id := fmt.Sprintf("kit-item-%d", i+1)
		p.Items = append(p.Items, playlists.Item{ID: id, Kind: playlists.KindImage, DurationS: float64(2 + i%2), DefaultLang: "en",
			Variants: map[string]playlists.Variant{"en": {SHA256: f.SHA256, ContentType: f.ContentType}}})
		p.Playlists[0].Entries = append(p.Playlists[0].Entries, playlists.Entry{ItemID: id})
	}
	return p
}

var allDay = []playlists.Window{{Start: "00:00", End: "00:00"}}

func (r *run) manifest(v int64, prog *playlists.Program, files ...protocol.File) protocol.Manifest {
	raw, _ := json.Marshal(prog)
	return protocol.Manifest{DisplayID: DisplayID, Version: v, IssuedAt: time.Now().UTC().Truncate(time.Second),
		Display:  protocol.DisplaySpec{Width: 640, Height: 360, Fit: "contain", Background: "#000000"},
		Timezone: prog.Timezone, Playlist: protocol.Playlist{Items: []protocol.Item{}}, Program: raw, PrefetchDays: 1, Files: files}
}

// send sends a manifest and waits for the player's answer.
func (r *run) send(ctx context.Context, m protocol.Manifest, bad bool) (protocol.Envelope, error) {
	signer := r.k.key
	if bad {
		signer = r.k.impostor
	}
	id, at, err := r.k.sendManifest(m, signer)
	if err != nil {
		return protocol.Envelope{}, err
	}
	r.lastID, r.lastSent, r.lastVer = id, at, m.Version
	return r.k.reply(ctx, id, fmt.Sprintf("manifest version %d", m.Version))
}

// expectAck sends a good manifest and requires an ack of its version.
func (r *run) expectAck(ctx context.Context, m protocol.Manifest) error {
	env, err := r.send(ctx, m, false)
	if err != nil {
		return err
	}
	if env.Type == protocol.TypeError {
		var e protocol.ErrorBody
		_ = env.DecodeBody(&e)
		return fmt.Errorf("the player refused manifest version %d: %s: %s", m.Version, e.Code, e.Message)
	}
	var a protocol.Ack
	_ = env.DecodeBody(&a)
	if a.ManifestVersion != m.Version {
		return fmt.Errorf("ack of manifest version %d carries manifest_version %d", m.Version, a.ManifestVersion)
	}
	r.applied, r.appliedAt = m.Version, time.Now()
	return nil
}

// expectRefusal sends m and requires an error with code.
func (r *run) expectRefusal(ctx context.Context, m protocol.Manifest, bad bool, code, why string) error {
	env, err := r.send(ctx, m, bad)
	if err != nil {
		return err
	}
	if env.Type == protocol.TypeAck {
		return fmt.Errorf("the player acknowledged manifest version %d %s; want error %s", m.Version, why, code)
	}
	var e protocol.ErrorBody
	_ = env.DecodeBody(&e)
	r.lastErr = e
	if e.Code != code {
		return fmt.Errorf("manifest version %d %s: error %s (%s), want %s", m.Version, why, e.Code, e.Message, code)
	}
	return nil
}

// incident waits for an incident of kind received after since.
func (r *run) incident(ctx context.Context, kind string, since time.Time) (protocol.Incident, error) {
	var got protocol.Incident
	err := r.k.wait(ctx, "an incident "+kind, func() (bool, error) {
		for _, f := range r.k.incidents {
			var in protocol.Incident
			if f.at.Before(since) || f.env.DecodeBody(&in) != nil {
				continue
			}
			if in.Kind == kind {
				got = in
				return true, nil
			}
		}
		return false, nil
	})
	return got, err
}

// heartbeat waits for a heartbeat received after since that satisfies ok.
func (r *run) heartbeat(ctx context.Context, since time.Time, what string, ok func(protocol.Heartbeat) bool) (protocol.Heartbeat, error) {
	var got protocol.Heartbeat
	err := r.k.wait(ctx, what, func() (bool, error) {
		for _, f := range r.k.framesSinceLocked(protocol.TypeHeartbeat, since) {
			var hb protocol.Heartbeat
			if f.env.DecodeBody(&hb) == nil && ok(hb) {
				got = hb
				return true, nil
			}
		}
		return false, nil
	})
	return got, err
}

// --- pairing ---

func checkHello(ctx context.Context, r *run) error {
	var h *protocol.Hello
	if err := r.k.wait(ctx, "the player to connect and send hello", func() (bool, error) {
		for _, c := range r.k.conns {
			if c.hello != nil {
				h = c.hello
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	if h.ProtocolVersion != protocol.Version {
		return fmt.Errorf("protocol_version %d, want %d", h.ProtocolVersion, protocol.Version)
	}
	if len(h.Nonce) != protocol.NonceSize {
		return fmt.Errorf("hello.nonce has %d bytes, want %d (a paired player must send it)", len(h.Nonce), protocol.NonceSize)
	}
	return nil
}

func checkAuth(ctx context.Context, r *run) error {
	return r.k.wait(ctx, "an auth whose signature verifies", func() (bool, error) {
		for _, c := range r.k.conns {
			if c.authOK {
				return true, nil
			}
			if c.authSent && !c.closed.IsZero() && !c.impostor {
				return false, errors.New("auth signature does not verify over \"beacon.v1 auth+server\\n\" ‖ server_key ‖ public_key ‖ nonce")
			}
		}
		return false, nil
	})
}

func checkPairingHeartbeat(ctx context.Context, r *run) error {
	_, err := r.heartbeat(ctx, time.Time{}, "a heartbeat with state pairing", func(hb protocol.Heartbeat) bool {
		return hb.State == protocol.StatePairing
	})
	return err
}

func checkPaired(ctx context.Context, r *run) error {
	c, err := r.k.session()
	if err != nil {
		return err
	}
	r.k.mu.Lock()
	r.k.paired, r.k.playerKey = true, c.hello.PublicKey
	token := r.k.token
	r.k.mu.Unlock()
	r.claimedAt = time.Now()
	if _, err := c.send(protocol.TypePaired, protocol.Paired{DisplayID: DisplayID, Name: DisplayName, Token: token, ServerKey: r.k.pub, OrgID: OrgID}); err != nil {
		return err
	}
	hb, err := r.heartbeat(ctx, r.claimedAt, "a heartbeat after paired", func(protocol.Heartbeat) bool { return true })
	if err != nil {
		return err
	}
	if hb.State == protocol.StatePairing {
		// One heartbeat may have been on its way; wait for the next.
		if _, err := r.heartbeat(ctx, time.Now(), "a heartbeat that no longer reports pairing", func(hb protocol.Heartbeat) bool {
			return hb.State != protocol.StatePairing
		}); err != nil {
			return err
		}
	}
	return nil
}

// --- manifest versions ---

func checkNewerManifest(ctx context.Context, r *run) error {
	r.files = []protocol.File{r.k.addFile(pngOf(40), "image/png"), r.k.addFile(pngOf(200), "image/png")}
	r.k.mu.Lock()
	r.k.issued += 9 // leave room below for the older-version check
	r.k.mu.Unlock()
	return r.expectAck(ctx, r.manifest(r.k.nextVersion(), kitProgram(allDay, r.files...), r.files...))
}

func checkFilesListed(ctx context.Context, r *run) error {
	err := r.k.wait(ctx, fmt.Sprintf("a file_list for version %d with both files in have", r.applied), func() (bool, error) {
		for _, f := range r.k.framesSinceLocked(protocol.TypeFileList, r.lastSent) {
			var fl protocol.FileList
			if f.env.DecodeBody(&fl) != nil || fl.ManifestVersion != r.applied {
				continue
			}
			if slices.Contains(fl.Have, r.files[0].SHA256) && slices.Contains(fl.Have, r.files[1].SHA256) && len(fl.Missing) == 0 {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	for _, d := range r.k.downloads {
		if d.status == 401 {
			return fmt.Errorf("a download of %s was made without the session's bearer token (401)", d.sha)
		}
	}
	return nil
}

func checkEqualVersion(ctx context.Context, r *run) error {
	return r.expectRefusal(ctx, r.manifest(r.applied, kitProgram(allDay, r.files...), r.files...), false, protocol.CodeStaleManifest, "equal to the one it holds")
}

func checkOlderVersion(ctx context.Context, r *run) error {
	return r.expectRefusal(ctx, r.manifest(r.applied-1, kitProgram(allDay, r.files...), r.files...), false, protocol.CodeStaleManifest, "older than the one it holds")
}

// --- bad signature ---

func checkBadSignature(ctx context.Context, r *run) error {
	m := r.manifest(r.k.nextVersion(), kitProgram(allDay, r.files[0]), r.files[0])
	return r.expectRefusal(ctx, m, true, protocol.CodeBadSignature, "whose signature does not verify with the pinned key")
}

func checkBadSignatureIncident(ctx context.Context, r *run) error {
	in, err := r.incident(ctx, protocol.IncidentBadSignature, r.lastSent)
	if err != nil {
		return err
	}
	if in.ManifestVersion != 0 {
		return fmt.Errorf("the incident carries manifest_version %d from the unverified payload; leave it out", in.ManifestVersion)
	}
	return nil
}

func checkKeptManifest(ctx context.Context, r *run) error {
	since := time.Now()
	hb, err := r.heartbeat(ctx, since, "a heartbeat after the refusal", func(protocol.Heartbeat) bool { return true })
	if err != nil {
		return err
	}
	if hb.ManifestVersion != r.applied {
		return fmt.Errorf("heartbeat reports manifest_version %d, want %d (the last verified one)", hb.ManifestVersion, r.applied)
	}
	return nil
}

// --- tampered file ---

func checkTamperedManifest(ctx context.Context, r *run) error {
	r.tampered = r.k.addTamperedFile(pngOf(99), "image/png")
	files := []protocol.File{r.files[0], r.tampered}
	return r.expectAck(ctx, r.manifest(r.k.nextVersion(), kitProgram(allDay, files...), files...))
}

func checkHashMismatch(ctx context.Context, r *run) error {
	in, err := r.incident(ctx, protocol.IncidentHashMismatch, r.lastSent)
	if err != nil {
		return err
	}
	if in.SHA256 != r.tampered.SHA256 {
		return fmt.Errorf("hash_mismatch names sha256 %q, want %s", in.SHA256, r.tampered.SHA256)
	}
	if in.ManifestVersion != r.applied {
		return fmt.Errorf("hash_mismatch carries manifest_version %d, want %d", in.ManifestVersion, r.applied)
	}
	return nil
}

func checkTamperedNotShown(ctx context.Context, r *run) error {
	// Let a heartbeat or two and any plays come in, then look at all of them.
	since := time.Now()
	if _, err := r.heartbeat(ctx, since, "a heartbeat after the incident", func(protocol.Heartbeat) bool { return true }); err != nil {
		return err
	}
	return r.tamperedNeverShown()
}

func (r *run) tamperedNeverShown() error {
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	for _, f := range r.k.frames {
		switch f.env.Type {
		case protocol.TypeFileList:
			var fl protocol.FileList
			if f.env.DecodeBody(&fl) == nil && slices.Contains(fl.Have, r.tampered.SHA256) {
				return fmt.Errorf("file_list at %s lists the tampered file %s in have", f.at.UTC().Format(time.RFC3339), r.tampered.SHA256)
			}
		case protocol.TypeHeartbeat:
			var hb protocol.Heartbeat
			if f.env.DecodeBody(&hb) == nil && hb.NowPlaying != nil && hb.NowPlaying.SHA256 == r.tampered.SHA256 {
				return fmt.Errorf("heartbeat at %s shows the tampered file %s", f.at.UTC().Format(time.RFC3339), r.tampered.SHA256)
			}
		}
	}
	for _, p := range r.k.plays {
		if p.SHA256 == r.tampered.SHA256 {
			return fmt.Errorf("play record %s shows the tampered file %s", p.ID, r.tampered.SHA256)
		}
	}
	return nil
}

// --- reconnect and resume ---

// drop closes the current session as a server going away would.
func (r *run) drop() (int, error) {
	c, err := r.k.session()
	if err != nil {
		return 0, err
	}
	r.dropAt = time.Now()
	c.closeWith(1001, "conformance kit: reconnect test")
	return c.n, nil
}

// nextConn waits for a connection after n that has sent hello.
func (r *run) nextConn(ctx context.Context, n int, what string) (*conn, error) {
	var got *conn
	err := r.k.wait(ctx, what, func() (bool, error) {
		for _, c := range r.k.conns {
			if c.n > n && c.hello != nil {
				got = c
				return true, nil
			}
		}
		return false, nil
	})
	return got, err
}

func checkReconnect(ctx context.Context, r *run) error {
	n, err := r.drop()
	if err != nil {
		return err
	}
	c, err := r.nextConn(ctx, n, "the player to reconnect")
	if err != nil {
		return err
	}
	r.reconn = c
	return r.k.wait(ctx, "the reconnected player to authenticate", func() (bool, error) {
		if c.authOK {
			return true, nil
		}
		if !c.closed.IsZero() {
			return false, fmt.Errorf("the reconnected session closed before auth (%s)", c.refusal)
		}
		return false, nil
	})
}

func checkResume(ctx context.Context, r *run) error {
	if r.reconn == nil {
		return errors.New("no reconnection to judge")
	}
	h := r.reconn.hello
	if h.ManifestVersion != r.applied {
		return fmt.Errorf("hello.manifest_version %d, want %d (the newest verified manifest)", h.ManifestVersion, r.applied)
	}
	if h.DisplayID != DisplayID {
		return fmt.Errorf("hello.display_id %q, want %q", h.DisplayID, DisplayID)
	}
	// The kit sends no manifest (the player holds the newest): it must
	// keep playing that version.
	hb, err := r.heartbeat(ctx, r.reconn.opened, "a heartbeat on the new session", func(protocol.Heartbeat) bool { return true })
	if err != nil {
		return err
	}
	if hb.ManifestVersion != r.applied {
		return fmt.Errorf("heartbeat after resuming reports manifest_version %d, want %d", hb.ManifestVersion, r.applied)
	}
	return nil
}

// --- pinned key ---

func checkImpostorRefused(ctx context.Context, r *run) error {
	r.k.mu.Lock()
	r.k.impostorNext = true
	r.k.mu.Unlock()
	n, err := r.drop()
	if err != nil {
		return err
	}
	c, err := r.nextConn(ctx, n, "the player to reconnect")
	if err != nil {
		return err
	}
	if !c.impostor {
		return errors.New("the kit could not present the other key")
	}
	r.reconn = c
	return r.k.wait(ctx, "the player to refuse the impostor's challenge", func() (bool, error) {
		if c.authSent {
			return false, errors.New("the player signed auth for a challenge made under a key other than the pinned one")
		}
		return !c.closed.IsZero(), nil
	})
}

func checkBackToPinned(ctx context.Context, r *run) error {
	c, err := r.nextConn(ctx, r.reconn.n, "the player to reconnect after refusing")
	if err != nil {
		return err
	}
	return r.k.wait(ctx, "the player to authenticate with the pinned server", func() (bool, error) {
		if c.authOK {
			return true, nil
		}
		if !c.closed.IsZero() {
			// Several attempts are fine; judge the newest.
			for _, d := range r.k.conns {
				if d.n > c.n && d.authOK {
					return true, nil
				}
			}
		}
		return false, nil
	})
}

func checkKeyMismatchIncident(ctx context.Context, r *run) error {
	_, err := r.incident(ctx, protocol.IncidentServerKeyMismatch, r.dropAt)
	return err
}

// --- binary frame ---

func checkBinaryClosed(ctx context.Context, r *run) error {
	c, err := r.k.session()
	if err != nil {
		return err
	}
	c.wmu.Lock()
	err = c.ws.WriteMessage(websocket.BinaryMessage, []byte("binary frames are not protocol v1"))
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	r.reconn = c
	return r.k.wait(ctx, "the player to close the connection", func() (bool, error) {
		if c.closed.IsZero() {
			return false, nil
		}
		if c.peerCode != websocket.CloseUnsupportedData {
			if c.peerCode == 0 {
				return false, errors.New("the connection ended without a close frame from the player; want close 1003")
			}
			return false, fmt.Errorf("the player closed with %d, want 1003", c.peerCode)
		}
		return true, nil
	})
}

func checkBackAfterBinary(ctx context.Context, r *run) error {
	_, err := r.nextConn(ctx, r.reconn.n, "the player to reconnect")
	if err != nil {
		return err
	}
	return r.k.wait(ctx, "the player to authenticate again", func() (bool, error) {
		for _, c := range r.k.conns {
			if c.n > r.reconn.n && c.authOK {
				return true, nil
			}
		}
		return false, nil
	})
}

// --- proof of play ---

func checkProgramManifest(ctx context.Context, r *run) error {
	r.program = kitProgram(allDay, r.files...)
	return r.expectAck(ctx, r.manifest(r.k.nextVersion(), r.program, r.files...))
}

// ourPlaysLocked returns the records of the program: those whose middle
// is after the player acknowledged it (a play of the previous program
// ends when the new one applies, before the ack arrives).
func (r *run) ourPlaysLocked() []protocol.PlayRecord {
	var out []protocol.PlayRecord
	for _, p := range r.k.plays {
		if mid := p.Start.Add(p.End.Sub(p.Start) / 2); !mid.Before(r.appliedAt) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func checkPlaysArrive(ctx context.Context, r *run) error {
	if r.program == nil {
		return errors.New("no program applied")
	}
	if err := sleep(ctx, r.k.opts.PlayWindow); err != nil {
		return err
	}
	until := r.appliedAt.Add(r.k.opts.PlayWindow - 3*time.Second)
	// At least three records, the last reaching past until: on a loaded
	// machine the first play can start late, so wait for both.
	return r.k.wait(ctx, fmt.Sprintf("three play records covering %v of the program (is a renderer connected?)", r.k.opts.PlayWindow-3*time.Second), func() (bool, error) {
		plays := r.ourPlaysLocked()
		return len(plays) >= 3 && !plays[len(plays)-1].End.Before(until), nil
	})
}

func checkPlaysMatch(ctx context.Context, r *run) error {
	r.k.mu.Lock()
	plays := r.ourPlaysLocked()
	r.k.mu.Unlock()
	if len(plays) < 3 {
		return fmt.Errorf("%d play records of the program, want at least 3", len(plays))
	}
	tol := r.k.opts.Tolerance
	from := r.appliedAt.Add(-time.Minute)
	to := plays[len(plays)-1].End.Add(time.Minute)
	timeline := playlists.Timeline(r.program, from, to, playlists.Options{})
	for _, p := range plays {
		if err := matchRecord(p, timeline, tol); err != nil {
			return err
		}
	}
	// Every play the timeline has wholly inside the records' span, after
	// the first, was recorded.
	first, last := plays[0].End, plays[len(plays)-1].Start
	for _, want := range timeline {
		if want.Start.Before(first) || want.End.After(last) {
			continue
		}
		found := false
		for _, p := range plays {
			if p.Zone == want.Zone && p.ItemID == want.ItemID && absDur(p.Start.Sub(want.Start)) <= tol {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("the timeline plays %s in zone %s from %s to %s; no record of it", want.ItemID, want.Zone, stamp(want.Start), stamp(want.End))
		}
	}
	return nil
}

// matchRecord finds the timeline play a record reports.
func matchRecord(p protocol.PlayRecord, timeline []playlists.Play, tol time.Duration) error {
	mid := p.Start.Add(p.End.Sub(p.Start) / 2)
	for _, want := range timeline {
		if want.Zone != p.Zone || mid.Before(want.Start) || !mid.Before(want.End) {
			continue
		}
		switch {
		case want.ItemID != p.ItemID:
			return fmt.Errorf("record %s: %s in zone %s from %s, but the timeline plays %s then", p.ID, p.ItemID, p.Zone, stamp(p.Start), want.ItemID)
		case want.SHA256 != p.SHA256:
			return fmt.Errorf("record %s: sha256 %q, the timeline's item shows %q", p.ID, p.SHA256, want.SHA256)
		case want.ScheduleID != p.ScheduleID:
			return fmt.Errorf("record %s: schedule_id %q, want %q", p.ID, p.ScheduleID, want.ScheduleID)
		case p.Start.Before(want.Start.Add(-tol)) || p.End.After(want.End.Add(tol)):
			return fmt.Errorf("record %s: %s from %s to %s, the timeline has it from %s to %s (tolerance %v)", p.ID, p.ItemID, stamp(p.Start), stamp(p.End), stamp(want.Start), stamp(want.End), tol)
		}
		return nil
	}
	return fmt.Errorf("record %s: %s in zone %s from %s to %s, when the timeline plays nothing there", p.ID, p.ItemID, p.Zone, stamp(p.Start), stamp(p.End))
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func stamp(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// --- overrides ---

const kitOverride = "kit-override"

// overrideAck waits for an override_ack of state since t.
func (r *run) overrideAck(ctx context.Context, state string, since time.Time) (protocol.OverrideAck, error) {
	var got protocol.OverrideAck
	err := r.k.wait(ctx, "override_ack "+state, func() (bool, error) {
		for _, f := range r.k.framesSinceLocked(protocol.TypeOverrideAck, since) {
			var a protocol.OverrideAck
			if f.env.DecodeBody(&a) != nil || a.ID != kitOverride {
				continue
			}
			if a.State == protocol.AckRefused {
				return false, fmt.Errorf("the player refused the override: %s", a.Error)
			}
			if a.State == state {
				got = a
				return true, nil
			}
		}
		return false, nil
	})
	return got, err
}

func checkOverrideReceived(ctx context.Context, r *run) error {
	c, err := r.k.session()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	so, err := protocol.SignOverride(r.k.key, protocol.OverrideSpec{ID: kitOverride, Revision: 1, Level: protocol.LevelWarning,
		Presentation: protocol.PresentFullscreen, Texts: map[string]string{"en": "Conformance kit: test override"},
		StartsAt: now.Add(-time.Second), ExpiresAt: now.Add(10 * time.Minute), IssuedAt: now, Wake: true,
		OrgID: OrgID, DisplayIDs: []string{DisplayID}})
	if err != nil {
		return err
	}
	r.overrideAt = time.Now()
	if _, err := c.send(protocol.TypeOverride, so); err != nil {
		return err
	}
	_, err = r.overrideAck(ctx, protocol.AckReceived, r.overrideAt)
	return err
}

func checkOverridePainted(ctx context.Context, r *run) error {
	a, err := r.overrideAck(ctx, protocol.AckPainted, r.overrideAt)
	if err != nil {
		return err
	}
	if a.PaintedAt.Before(r.overrideAt.Add(-r.k.opts.Tolerance)) {
		return fmt.Errorf("painted_at %s is before the override was sent (%s)", stamp(a.PaintedAt), stamp(r.overrideAt))
	}
	return nil
}

func checkOverrideEnded(ctx context.Context, r *run) error {
	c, err := r.k.session()
	if err != nil {
		return err
	}
	at := time.Now()
	if _, err := c.send(protocol.TypeOverrideCancel, protocol.SignCancel(r.k.key, kitOverride, OrgID, at)); err != nil {
		return err
	}
	_, err = r.overrideAck(ctx, protocol.AckEnded, at)
	return err
}

// --- operating hours ---

func checkClosedManifest(ctx context.Context, r *run) error {
	start := time.Now().UTC().Add(10 * time.Hour)
	hours := []playlists.Window{{Start: playlists.Clock(start.Format("15:04")), End: playlists.Clock(start.Add(time.Hour).Format("15:04"))}}
	r.hoursNote = fmt.Sprintf("operating hours %s–%s UTC", hours[0].Start, hours[0].End)
	r.program = kitProgram(hours, r.files...)
	return r.expectAck(ctx, r.manifest(r.k.nextVersion(), r.program, r.files...))
}

func checkScreenOff(ctx context.Context, r *run) error {
	since := r.appliedAt.Add(r.k.opts.Tolerance)
	var playing *protocol.Heartbeat
	_, err := r.heartbeat(ctx, since, "a heartbeat with state off", func(hb protocol.Heartbeat) bool {
		if hb.State == protocol.StatePlaying && playing == nil {
			playing = &hb
		}
		return hb.State == protocol.StateOff
	})
	if playing != nil {
		return fmt.Errorf("heartbeat at %s reports state playing outside %s", playing.PlayerTime.UTC().Format(time.RFC3339), r.hoursNote)
	}
	return err
}

func checkNothingPlayed(ctx context.Context, r *run) error {
	// Give plays that ended after the change time to be sent.
	if err := sleep(ctx, r.k.opts.Tolerance+2*time.Second); err != nil {
		return err
	}
	since := r.appliedAt.Add(r.k.opts.Tolerance)
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	for _, p := range r.k.plays {
		if p.End.After(since) {
			return fmt.Errorf("record %s: %s played from %s to %s, outside %s", p.ID, p.ItemID, stamp(p.Start), stamp(p.End), r.hoursNote)
		}
	}
	for _, f := range r.k.framesSinceLocked(protocol.TypeHeartbeat, since) {
		var hb protocol.Heartbeat
		if f.env.DecodeBody(&hb) == nil && hb.State == protocol.StatePlaying {
			return fmt.Errorf("heartbeat at %s reports state playing outside %s", stamp(f.at), r.hoursNote)
		}
	}
	return nil
}
