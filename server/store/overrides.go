package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Targets is who an override was addressed to, as the caller gave it.
// It is resolved to display ids when the override is triggered.
type Targets struct {
	All      bool     `json:"all,omitempty"`
	Clusters []string `json:"clusters,omitempty"`
	Displays []string `json:"displays,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Area     *Area    `json:"area,omitempty"`
	// Areas are more areas (a CAP alert may give several); a display in
	// any of them is targeted.
	Areas []Area `json:"areas,omitempty"`
	// OnlyTags narrows the targets to displays carrying at least one of
	// these tags (CAP status Test goes to displays tagged "test" only).
	OnlyTags []string `json:"only_tags,omitempty"`
}

// Area is a polygon of [lat, lon] points or a circle.
type Area struct {
	Polygon [][2]float64 `json:"polygon,omitempty"`
	Circle  *Circle      `json:"circle,omitempty"`
}

// Circle is a centre and a radius in kilometres.
type Circle struct {
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	RadiusKm float64 `json:"radius_km"`
}

// Override is an emergency override as stored: its fields, who triggered
// it from where, the displays it was resolved to, and the signed payload
// sent to players (Payload and Signature, exactly as signed).
type Override struct {
	ID           string
	OrgID        string
	Level        string
	Presentation string
	Position     string
	Texts        map[string]string
	Languages    []string
	LangMode     string
	MediaIDs     []string
	ToneKind     string
	ToneRepeat   int
	Targets      Targets
	AllDisplays  bool
	DisplayIDs   []string
	StartsAt     time.Time
	ExpiresAt    time.Time
	Wake         bool
	CreatedBy    string
	CreatedFrom  string
	CreatedAt    time.Time
	CancelledAt  time.Time // zero if not cancelled
	CancelledBy  string
	// CancelSignature signs the override_cancel (protocol.SignCancel at
	// CancelledAt), kept so that players offline at the cancel get it.
	CancelSignature []byte
	Revision        int64
	Payload         []byte
	Signature       []byte
	// Idempotency: the token and the caller's key that created it.
	IdemToken, IdemKey string
}

// ActiveAt reports whether the override is in force at t (started, not
// expired, not cancelled).
func (o Override) ActiveAt(t time.Time) bool {
	return o.CancelledAt.IsZero() && !t.Before(o.StartsAt) && t.Before(o.ExpiresAt)
}

// Live reports whether the override still matters at t: not expired and
// not cancelled (it may start later).
func (o Override) Live(t time.Time) bool {
	return o.CancelledAt.IsZero() && t.Before(o.ExpiresAt)
}

// Delivery states of an override on one display.
const (
	DeliveryPending     = "pending"     // not yet handed to a session
	DeliverySent        = "sent"        // queued to the display's session
	DeliveryReceived    = "received"    // the player verified and accepted it
	DeliveryPainted     = "painted"     // on screen (PaintedAt)
	DeliveryEnded       = "ended"       // taken off screen (cancelled or expired)
	DeliveryRefused     = "refused"     // the player refused it (Error says why)
	DeliveryOffline     = "offline"     // the display is not connected; sent when it connects
	DeliveryNotDue      = "not_due"     // received, but the screen is off (outside operating hours, the override does not wake it)
	DeliveryUnsupported = "unsupported" // the player does not announce the override capability
)

// Delivery is an override's progress on one display.
type Delivery struct {
	OverrideID string
	DisplayID  string
	State      string
	SentAt     time.Time
	ReceivedAt time.Time
	PaintedAt  time.Time
	EndedAt    time.Time
	LatencyMS  int64 // trigger to painted; -1 when not painted
	Error      string
	UpdatedAt  time.Time
}

const overrideCols = `id, org_id, level, presentation, position, texts, languages, lang_mode, media_ids, tone_kind, tone_repeat, targets, all_displays, display_ids,
	starts_at, expires_at, wake, created_by, created_from, created_at, cancelled_at, cancelled_by, cancel_signature, revision, payload, signature, idem_token, idem_key`

func scanOverride(sc scanner) (Override, error) {
	var o Override
	var texts, langs, mids, targets, dids string
	var starts, expires, created, cancelled sql.NullString
	err := sc.Scan(&o.ID, &o.OrgID, &o.Level, &o.Presentation, &o.Position, &texts, &langs, &o.LangMode, &mids, &o.ToneKind, &o.ToneRepeat,
		&targets, &o.AllDisplays, &dids, &starts, &expires, &o.Wake, &o.CreatedBy, &o.CreatedFrom, &created, &cancelled, &o.CancelledBy,
		&o.CancelSignature, &o.Revision, &o.Payload, &o.Signature, &o.IdemToken, &o.IdemKey)
	if errors.Is(err, sql.ErrNoRows) {
		return Override{}, ErrNotFound
	}
	if err != nil {
		return Override{}, fmt.Errorf("store: read override: %w", err)
	}
	_ = json.Unmarshal([]byte(texts), &o.Texts)
	_ = json.Unmarshal([]byte(langs), &o.Languages)
	_ = json.Unmarshal([]byte(mids), &o.MediaIDs)
	_ = json.Unmarshal([]byte(targets), &o.Targets)
	_ = json.Unmarshal([]byte(dids), &o.DisplayIDs)
	o.StartsAt, o.ExpiresAt, o.CreatedAt, o.CancelledAt = parseTS(starts), parseTS(expires), parseTS(created), parseTS(cancelled)
	return o, nil
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// deliveryInsertChunk is how many deliveries one INSERT writes (4
// parameters each, well under SQLite's limit of 32,766).
const deliveryInsertChunk = 500

// CreateOverride stores an override (its ID, payload and signature set
// by the caller) and a delivery row per resolved display, in state
// initial, in one transaction. With an idempotency key already used by
// the same token, it returns the stored override and ErrConflict.
func (s *Store) CreateOverride(ctx context.Context, o Override, initial string) (Override, error) {
	return s.createOverride(ctx, o, func(tx *sql.Tx) error {
		// Many rows per statement: one per display is most of a trigger's
		// time at 10,000 displays.
		now := ts(s.now())
		for ids := o.DisplayIDs; len(ids) > 0; {
			n := min(len(ids), deliveryInsertChunk)
			q := `INSERT INTO override_deliveries (override_id, display_id, state, updated_at) VALUES ` + strings.Repeat(`(?, ?, ?, ?), `, n-1) + `(?, ?, ?, ?)`
			args := make([]any, 0, 4*n)
			for _, d := range ids[:n] {
				args = append(args, o.ID, d, initial, now)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("store: create deliveries: %w", err)
			}
			ids = ids[n:]
		}
		return nil
	})
}

// InsertOverride stores an override alone, without its deliveries: the
// trigger sends it to the connected players first and then writes every
// delivery in its final state with AddDeliveries (the override is in the
// store before any player can acknowledge it). With an idempotency key
// already used by the same token, it returns the stored override and
// ErrConflict.
func (s *Store) InsertOverride(ctx context.Context, o Override) (Override, error) {
	return s.createOverride(ctx, o, nil)
}

func (s *Store) createOverride(ctx context.Context, o Override, more func(*sql.Tx) error) (Override, error) {
	if o.Texts == nil {
		o.Texts = map[string]string{}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO overrides (`+overrideCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.OrgID, o.Level, o.Presentation, o.Position, jsonOf(o.Texts), jsonList(o.Languages), o.LangMode, jsonList(o.MediaIDs), o.ToneKind, o.ToneRepeat,
			jsonOf(o.Targets), o.AllDisplays, jsonList(o.DisplayIDs), ts(o.StartsAt), ts(o.ExpiresAt), o.Wake, o.CreatedBy, o.CreatedFrom, ts(o.CreatedAt),
			nil, "", nil, o.Revision, o.Payload, o.Signature, o.IdemToken, o.IdemKey)
		if isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return fmt.Errorf("store: create override: %w", err)
		}
		if more != nil {
			return more(tx)
		}
		return nil
	})
	if errors.Is(err, ErrConflict) && o.IdemKey != "" {
		prev, perr := s.OverrideByIdemKey(ctx, o.OrgID, o.IdemToken, o.IdemKey)
		if perr != nil {
			return Override{}, perr
		}
		return prev, ErrConflict
	}
	if err != nil {
		return Override{}, err
	}
	return o, nil
}

// AddDeliveries writes an override's deliveries, the displays of each
// state in byState (a display in none gets no row), in one transaction
// (one statement per state); sent deliveries are sent at at. A delivery
// already stored keeps what a report made of it: only a pending or
// offline one takes the new state.
func (s *Store) AddDeliveries(ctx context.Context, overrideID string, byState map[string][]string, at time.Time) error {
	now := ts(at)
	return s.tx(ctx, func(tx *sql.Tx) error {
		for state, ids := range byState {
			if len(ids) == 0 {
				continue
			}
			var sent any
			if state == DeliverySent {
				sent = now
			}
			// The ids as one JSON array, not four parameters per row.
			if _, err := tx.ExecContext(ctx, `INSERT INTO override_deliveries (override_id, display_id, state, sent_at, updated_at)
				SELECT ?, value, ?, ?, ? FROM json_each(?) WHERE true
				ON CONFLICT (override_id, display_id) DO UPDATE SET state = excluded.state, sent_at = COALESCE(excluded.sent_at, sent_at), updated_at = excluded.updated_at
				WHERE override_deliveries.state IN ('pending', 'offline')`, overrideID, state, sent, now, jsonList(ids)); err != nil {
				return fmt.Errorf("store: add deliveries: %w", err)
			}
		}
		return nil
	})
}

// HasDeliveries reports whether any delivery of the override is stored
// (AddDeliveries writes them all at once).
func (s *Store) HasDeliveries(ctx context.Context, overrideID string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM override_deliveries WHERE override_id = ? LIMIT 1`, overrideID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: deliveries: %w", err)
	}
	return true, nil
}

// OverrideByIdemKey finds the override a token created with an
// idempotency key.
func (s *Store) OverrideByIdemKey(ctx context.Context, orgID, tokenID, key string) (Override, error) {
	return scanOverride(s.db.QueryRowContext(ctx, `SELECT `+overrideCols+` FROM overrides WHERE org_id = ? AND idem_token = ? AND idem_key = ?`, orgID, tokenID, key))
}

// Override returns one override of an organisation.
func (s *Store) Override(ctx context.Context, orgID, id string) (Override, error) {
	return scanOverride(s.db.QueryRowContext(ctx, `SELECT `+overrideCols+` FROM overrides WHERE org_id = ? AND id = ?`, orgID, id))
}

// OverrideInOrg reports ErrNotFound unless the organisation has the
// override (without reading its lists: an override to 10,000 displays
// carries their 10,000 ids).
func (s *Store) OverrideInOrg(ctx context.Context, orgID, id string) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM overrides WHERE org_id = ? AND id = ?`, orgID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: override: %w", err)
	}
	return nil
}

// OverrideByID returns an override whatever its organisation (delivery).
func (s *Store) OverrideByID(ctx context.Context, id string) (Override, error) {
	return scanOverride(s.db.QueryRowContext(ctx, `SELECT `+overrideCols+` FROM overrides WHERE id = ?`, id))
}

// Overrides lists an organisation's overrides, newest first, at most
// limit; only those live at now (not expired, not cancelled) if live.
func (s *Store) Overrides(ctx context.Context, orgID string, live bool, now time.Time, limit int) ([]Override, error) {
	q := `SELECT ` + overrideCols + ` FROM overrides WHERE org_id = ?`
	args := []any{orgID}
	if live {
		q += ` AND cancelled_at IS NULL AND expires_at > ?`
		args = append(args, ts(now))
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.db, "overrides", scanOverride, q, args...)
}

// UnexpiredOverrides lists every organisation's overrides not expired at
// now, cancelled or not (a cancel is re-sent to players offline at it).
func (s *Store) UnexpiredOverrides(ctx context.Context, now time.Time) ([]Override, error) {
	return queryAll(ctx, s.db, "overrides", scanOverride, `SELECT `+overrideCols+` FROM overrides WHERE expires_at > ? ORDER BY created_at`, ts(now))
}

// UnexpiredOverridesFor lists the overrides not expired at now that have
// a delivery row for the display.
func (s *Store) UnexpiredOverridesFor(ctx context.Context, displayID string, now time.Time) ([]Override, error) {
	return queryAll(ctx, s.db, "overrides", scanOverride, `SELECT `+overrideCols+` FROM overrides
		WHERE expires_at > ? AND id IN (SELECT override_id FROM override_deliveries WHERE display_id = ?) ORDER BY created_at`, ts(now), displayID)
}

// CancelOverride marks a live override cancelled, with the signature of
// its override_cancel. ErrNotFound if there is none; ErrConflict (and the
// stored override) if it was already cancelled or has expired.
func (s *Store) CancelOverride(ctx context.Context, orgID, id, by string, at time.Time, sig []byte) (Override, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE overrides SET cancelled_at = ?, cancelled_by = ?, cancel_signature = ?
		WHERE org_id = ? AND id = ? AND cancelled_at IS NULL AND expires_at > ?`, ts(at), by, sig, orgID, id, ts(at))
	if err != nil {
		return Override{}, fmt.Errorf("store: cancel override: %w", err)
	}
	o, err := s.Override(ctx, orgID, id)
	if err != nil {
		return Override{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return o, ErrConflict
	}
	return o, nil
}

const deliveryCols = `override_id, display_id, state, sent_at, received_at, painted_at, ended_at, latency_ms, error, updated_at`

func scanDelivery(sc scanner) (Delivery, error) {
	var d Delivery
	var sent, recv, painted, ended, updated sql.NullString
	var lat sql.NullInt64
	if err := sc.Scan(&d.OverrideID, &d.DisplayID, &d.State, &sent, &recv, &painted, &ended, &lat, &d.Error, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Delivery{}, ErrNotFound
		}
		return Delivery{}, err
	}
	d.SentAt, d.ReceivedAt, d.PaintedAt, d.EndedAt, d.UpdatedAt = parseTS(sent), parseTS(recv), parseTS(painted), parseTS(ended), parseTS(updated)
	d.LatencyMS = -1
	if lat.Valid {
		d.LatencyMS = lat.Int64
	}
	return d, nil
}

// Deliveries lists an override's deliveries by display id.
func (s *Store) Deliveries(ctx context.Context, overrideID string) ([]Delivery, error) {
	return queryAll(ctx, s.db, "deliveries", scanDelivery, `SELECT `+deliveryCols+` FROM override_deliveries WHERE override_id = ? ORDER BY display_id`, overrideID)
}

// DeliveriesAfter lists at most limit of an override's deliveries, those
// of displays after afterDisplayID ("" from the first) in display order:
// one page of the API's list, read from the index rather than the whole
// list per page.
func (s *Store) DeliveriesAfter(ctx context.Context, overrideID, afterDisplayID string, limit int) ([]Delivery, error) {
	return queryAll(ctx, s.db, "deliveries", scanDelivery, `SELECT `+deliveryCols+` FROM override_deliveries
		WHERE override_id = ? AND display_id > ? ORDER BY display_id LIMIT ?`, overrideID, afterDisplayID, limit)
}

// UnpaintedDeliveries lists an override's deliveries that are not (or
// not yet) on screen: all but painted, ended, offline and not_due (the ack
// watch's question; at 10,000 displays nearly all are painted).
func (s *Store) UnpaintedDeliveries(ctx context.Context, overrideID string) ([]Delivery, error) {
	return queryAll(ctx, s.db, "deliveries", scanDelivery, `SELECT `+deliveryCols+` FROM override_deliveries
		WHERE override_id = ? AND state NOT IN ('painted', 'ended', 'offline', 'not_due') ORDER BY display_id`, overrideID)
}

// Delivery returns one delivery.
func (s *Store) Delivery(ctx context.Context, overrideID, displayID string) (Delivery, error) {
	return scanDelivery(s.db.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM override_deliveries WHERE override_id = ? AND display_id = ?`, overrideID, displayID))
}

// MarkSent records that the override was queued to the display's session
// (state sent, or unsupported when the player lacks the capability). A
// delivery the player already acknowledged keeps its state.
func (s *Store) MarkSent(ctx context.Context, overrideID string, displayIDs []string, state string, at time.Time) error {
	if len(displayIDs) == 0 {
		return nil
	}
	// One statement for the whole list (a JSON array), not one per display.
	_, err := s.db.ExecContext(ctx, `UPDATE override_deliveries SET state = ?, sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, updated_at = ?
		WHERE override_id = ? AND display_id IN (SELECT value FROM json_each(?)) AND state IN ('pending', 'offline', 'sent', 'unsupported')`,
		state, state, ts(at), ts(at), overrideID, jsonList(displayIDs))
	if err != nil {
		return fmt.Errorf("store: mark deliveries: %w", err)
	}
	return nil
}

// MarkPendingOffline turns the override's pending deliveries to offline
// and returns their display ids.
func (s *Store) MarkPendingOffline(ctx context.Context, overrideID string, at time.Time) ([]string, error) {
	return s.updateDisplayIDs(ctx, "mark offline",
		`UPDATE override_deliveries SET state = 'offline', updated_at = ? WHERE override_id = ? AND state = 'pending' RETURNING display_id`, ts(at), overrideID)
}

// updateDisplayIDs runs an UPDATE … RETURNING display_id in a transaction
// and returns the ids it changed.
func (s *Store) updateDisplayIDs(ctx context.Context, what, query string, args ...any) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

// MarkNotDue turns the given deliveries that are still received into
// not_due (the screen is off: outside operating hours, and the override
// does not wake it) and returns the display ids it changed.
func (s *Store) MarkNotDue(ctx context.Context, overrideID string, displayIDs []string, at time.Time) ([]string, error) {
	if len(displayIDs) == 0 {
		return nil, nil
	}
	return s.updateDisplayIDs(ctx, "mark not due", `UPDATE override_deliveries SET state = 'not_due', updated_at = ?
			WHERE override_id = ? AND display_id IN (SELECT value FROM json_each(?)) AND state = 'received' RETURNING display_id`,
		ts(at), overrideID, jsonList(displayIDs))
}

// AckDelivery records a player's report. States only move forward
// (received < painted < ended; refused is final); an older report is
// ignored. It returns the delivery as stored and whether it changed.
func (s *Store) AckDelivery(ctx context.Context, overrideID, displayID, state string, at, paintedAt time.Time, latencyMS int64, errMsg string) (Delivery, bool, error) {
	q, args, err := ackQuery(DeliveryAck{OverrideID: overrideID, DisplayID: displayID, State: state, At: at, PaintedAt: paintedAt, LatencyMS: latencyMS, Error: errMsg})
	if err != nil {
		return Delivery{}, false, err
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return Delivery{}, false, fmt.Errorf("store: ack delivery: %w", err)
	}
	n, _ := res.RowsAffected()
	d, err := s.Delivery(ctx, overrideID, displayID)
	return d, n > 0, err
}

// DeliveryAck is one player's report on one override, for AckDeliveries.
type DeliveryAck struct {
	OverrideID, DisplayID, State string
	At, PaintedAt                time.Time
	LatencyMS                    int64
	Error                        string
}

// AckOutcome is what became of one DeliveryAck: the delivery as stored
// when the report changed it (Changed), or ErrNotFound when the override
// does not target the display.
type AckOutcome struct {
	Delivery Delivery
	Changed  bool
	Err      error
}

// AckDeliveries records many reports in one transaction, in order, with
// AckDelivery's rules (a fleet acknowledges an override at once: one
// write per report would queue them behind each other). The received and
// painted reports of a delivery (nearly all of them) are written with two
// statements for the whole batch; a delivery with any other report in the
// batch (ended, refused, unknown) is written report by report.
func (s *Store) AckDeliveries(ctx context.Context, acks []DeliveryAck) ([]AckOutcome, error) {
	out := make([]AckOutcome, len(acks))
	type key struct{ o, d string }
	slow := map[key]bool{}
	for _, a := range acks {
		if a.State != DeliveryReceived && a.State != DeliveryPainted {
			slow[key{a.OverrideID, a.DisplayID}] = true
		}
	}
	// One entry per delivery: its first received report and its first
	// painted one; later ones are older news (states only move forward).
	type entry struct {
		k             key
		recv, painted int   // indexes in acks, -1 if none
		all           []int // every report of the delivery
	}
	var entries []*entry
	byKey := map[key]*entry{}
	for i, a := range acks {
		k := key{a.OverrideID, a.DisplayID}
		if slow[k] {
			continue
		}
		e := byKey[k]
		if e == nil {
			e = &entry{k: k, recv: -1, painted: -1}
			byKey[k] = e
			entries = append(entries, e)
		}
		e.all = append(e.all, i)
		switch {
		case a.State == DeliveryReceived && e.recv < 0 && e.painted < 0:
			e.recv = i
		case a.State == DeliveryPainted && e.painted < 0:
			e.painted = i
		}
	}
	type row struct {
		O string `json:"o"`
		D string `json:"d"`
		R string `json:"r"`           // received_at if not set yet
		A string `json:"a"`           // updated_at: when the server read the report
		P string `json:"p,omitempty"` // painted_at
		L int64  `json:"l"`           // latency_ms
	}
	var recvRows, paintRows []row
	for _, e := range entries {
		switch {
		case e.painted >= 0:
			p := acks[e.painted]
			r := p.At
			if e.recv >= 0 {
				r = acks[e.recv].At
			}
			paintRows = append(paintRows, row{O: e.k.o, D: e.k.d, R: ts(r), A: ts(p.At), P: ts(p.PaintedAt), L: p.LatencyMS})
		case e.recv >= 0:
			a := acks[e.recv]
			recvRows = append(recvRows, row{O: e.k.o, D: e.k.d, R: ts(a.At), A: ts(a.At)})
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		changed := map[key]sql.NullString{} // → received_at as stored
		bulk := func(q string, rows []row) error {
			if len(rows) == 0 {
				return nil
			}
			b, err := json.Marshal(rows)
			if err != nil {
				return err
			}
			res, err := tx.QueryContext(ctx, q, string(b))
			if err != nil {
				return fmt.Errorf("store: ack deliveries: %w", err)
			}
			defer res.Close()
			for res.Next() {
				var k key
				var recv sql.NullString
				if err := res.Scan(&k.o, &k.d, &recv); err != nil {
					return err
				}
				changed[k] = recv
			}
			return res.Err()
		}
		const from = ` FROM (SELECT value->>'o' AS o, value->>'d' AS d, value->>'r' AS r, value->>'a' AS a, value->>'p' AS p, value->>'l' AS l FROM json_each(?)) AS j
			WHERE override_deliveries.override_id = j.o AND override_deliveries.display_id = j.d AND override_deliveries.state IN `
		if err := bulk(`UPDATE override_deliveries SET state = 'received', received_at = j.r, updated_at = j.a`+from+
			`('pending', 'offline', 'sent', 'unsupported') RETURNING override_id, display_id, received_at`, recvRows); err != nil {
			return err
		}
		if err := bulk(`UPDATE override_deliveries SET state = 'painted', received_at = COALESCE(received_at, j.r), painted_at = j.p, latency_ms = j.l, updated_at = j.a`+from+
			`('pending', 'offline', 'sent', 'unsupported', 'received', 'not_due') RETURNING override_id, display_id, received_at`, paintRows); err != nil {
			return err
		}
		// Deliveries nothing changed: older reports, or no such delivery.
		var unchanged []row
		for _, e := range entries {
			if _, ok := changed[e.k]; !ok {
				unchanged = append(unchanged, row{O: e.k.o, D: e.k.d})
			}
		}
		exists := map[key]bool{}
		if len(unchanged) > 0 {
			b, _ := json.Marshal(unchanged)
			res, err := tx.QueryContext(ctx, `SELECT override_id, display_id FROM override_deliveries
				WHERE (override_id, display_id) IN (SELECT value->>'o', value->>'d' FROM json_each(?))`, string(b))
			if err != nil {
				return fmt.Errorf("store: ack deliveries: %w", err)
			}
			for res.Next() {
				var k key
				if err := res.Scan(&k.o, &k.d); err != nil {
					res.Close()
					return err
				}
				exists[k] = true
			}
			res.Close()
			if err := res.Err(); err != nil {
				return err
			}
		}
		for _, e := range entries {
			recv, ok := changed[e.k]
			if !ok {
				if !exists[e.k] {
					for _, i := range e.all {
						out[i].Err = ErrNotFound
					}
				}
				continue
			}
			received := parseTS(recv)
			if e.recv >= 0 && received.Equal(acks[e.recv].At) {
				// This batch's received report was the one that moved it.
				out[e.recv] = AckOutcome{Changed: true, Delivery: Delivery{OverrideID: e.k.o, DisplayID: e.k.d, State: DeliveryReceived,
					ReceivedAt: received, LatencyMS: -1, UpdatedAt: acks[e.recv].At}}
			}
			if e.painted >= 0 {
				p := acks[e.painted]
				out[e.painted] = AckOutcome{Changed: true, Delivery: Delivery{OverrideID: e.k.o, DisplayID: e.k.d, State: DeliveryPainted,
					ReceivedAt: received, PaintedAt: p.PaintedAt, LatencyMS: p.LatencyMS, UpdatedAt: p.At}}
			}
		}
		if len(slow) == 0 {
			return nil
		}
		// Report by report, for the deliveries with another kind of report.
		stmts := map[string]*sql.Stmt{}
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		prep := func(q string) (*sql.Stmt, error) {
			if st := stmts[q]; st != nil {
				return st, nil
			}
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return nil, err
			}
			stmts[q] = st
			return st, nil
		}
		for i, a := range acks {
			if !slow[key{a.OverrideID, a.DisplayID}] {
				continue
			}
			q, args, err := ackQuery(a)
			if err != nil {
				out[i].Err = err
				continue
			}
			st, err := prep(q + ` RETURNING ` + deliveryCols)
			if err != nil {
				return err
			}
			d, err := scanDelivery(st.QueryRowContext(ctx, args...))
			if err == nil {
				out[i] = AckOutcome{Delivery: d, Changed: true}
				continue
			}
			if !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("store: ack delivery: %w", err)
			}
			// Unchanged: an older report, or no such delivery.
			st, err = prep(`SELECT 1 FROM override_deliveries WHERE override_id = ? AND display_id = ?`)
			if err != nil {
				return err
			}
			var one int
			if err := st.QueryRowContext(ctx, a.OverrideID, a.DisplayID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				out[i].Err = ErrNotFound
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func ackQuery(a DeliveryAck) (string, []any, error) {
	var q string
	var args []any
	switch a.State {
	case DeliveryReceived:
		q = `UPDATE override_deliveries SET state = 'received', received_at = ?, updated_at = ? WHERE override_id = ? AND display_id = ? AND state IN ('pending', 'offline', 'sent', 'unsupported')`
		args = []any{ts(a.At), ts(a.At)}
	case DeliveryPainted:
		q = `UPDATE override_deliveries SET state = 'painted', received_at = COALESCE(received_at, ?), painted_at = ?, latency_ms = ?, updated_at = ? WHERE override_id = ? AND display_id = ? AND state IN ('pending', 'offline', 'sent', 'unsupported', 'received', 'not_due')`
		args = []any{ts(a.At), ts(a.PaintedAt), a.LatencyMS, ts(a.At)}
	case DeliveryEnded:
		q = `UPDATE override_deliveries SET state = 'ended', ended_at = ?, updated_at = ? WHERE override_id = ? AND display_id = ? AND state NOT IN ('ended', 'refused')`
		args = []any{ts(a.At), ts(a.At)}
	case DeliveryRefused:
		q = `UPDATE override_deliveries SET state = 'refused', error = ?, updated_at = ? WHERE override_id = ? AND display_id = ? AND state NOT IN ('ended', 'refused')`
		args = []any{a.Error, ts(a.At)}
	default:
		return "", nil, fmt.Errorf("store: unknown delivery state %q", a.State)
	}
	return q, append(args, a.OverrideID, a.DisplayID), nil
}

// EndDeliveries marks every delivery of an override that was shown or on
// its way as ended (the override expired), and returns how many changed.
func (s *Store) EndDeliveries(ctx context.Context, overrideID string, at time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE override_deliveries SET state = 'ended', ended_at = ?, updated_at = ? WHERE override_id = ? AND state IN ('sent', 'received', 'not_due', 'painted')`,
		ts(at), ts(at), overrideID)
	if err != nil {
		return 0, fmt.Errorf("store: end deliveries: %w", err)
	}
	return res.RowsAffected()
}

// AuditEntry records who did what from where: override triggers, cancels,
// kill switches.
type AuditEntry struct {
	ID         string
	OrgID      string
	Actor      string // user id, or the token id for API tokens
	TokenID    string
	RemoteAddr string
	Action     string
	Subject    string // what it acted on, e.g. an override id
	Details    string
	CreatedAt  time.Time
}

// Audit actions.
const (
	AuditOverrideTrigger = "override.trigger"
	AuditOverrideCancel  = "override.cancel"
	AuditKillSwitch      = "override.kill_switch"
	AuditOverrideRefused = "override.refused"
)

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	e.ID = NewID("aud")
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_log (id, org_id, actor, token_id, remote_addr, action, subject, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.OrgID, e.Actor, e.TokenID, e.RemoteAddr, e.Action, e.Subject, e.Details, ts(e.CreatedAt))
	if err != nil {
		return AuditEntry{}, fmt.Errorf("store: audit: %w", err)
	}
	return e, nil
}

// AuditLog lists an organisation's audit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, orgID string, limit int) ([]AuditEntry, error) {
	return queryAll(ctx, s.db, "audit log", scanAudit,
		`SELECT `+auditCols+` FROM audit_log WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, orgID, limit)
}

// AuditLogAction lists the newest entries of one action, at most limit.
func (s *Store) AuditLogAction(ctx context.Context, orgID, action string, limit int) ([]AuditEntry, error) {
	return queryAll(ctx, s.db, "audit log", scanAudit,
		`SELECT `+auditCols+` FROM audit_log WHERE org_id = ? AND action = ? ORDER BY created_at DESC, id DESC LIMIT ?`, orgID, action, limit)
}

const auditCols = `id, org_id, actor, token_id, remote_addr, action, subject, details, created_at`

func scanAudit(sc scanner) (AuditEntry, error) {
	var e AuditEntry
	var created sql.NullString
	err := sc.Scan(&e.ID, &e.OrgID, &e.Actor, &e.TokenID, &e.RemoteAddr, &e.Action, &e.Subject, &e.Details, &created)
	e.CreatedAt = parseTS(created)
	return e, err
}
