package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// CAPMessage is a CAP message the intake accepted: its duplicate key
// (sender, identifier, sent in UTC), what became of it and the overrides
// it made. Refused messages are only in the audit log.
type CAPMessage struct {
	ID           string
	OrgID        string
	Source       string // the configured source's id
	Key          string // "sender,identifier,sent"
	Status       string
	MsgType      string
	Outcome      string   // triggered, no_screens, no_displays, expired, cancelled…
	OverrideIDs  []string // the overrides it triggered
	Result       []byte   // the JSON answer given, replayed for duplicates
	ReceivedBy   string
	ReceivedFrom string
	CreatedAt    time.Time
}

const capCols = `id, org_id, source, msg_key, status, msg_type, outcome, override_ids, result, received_by, received_from, created_at`

func scanCAP(sc scanner) (CAPMessage, error) {
	var m CAPMessage
	var ids, result string
	var created sql.NullString
	err := sc.Scan(&m.ID, &m.OrgID, &m.Source, &m.Key, &m.Status, &m.MsgType, &m.Outcome, &ids, &result, &m.ReceivedBy, &m.ReceivedFrom, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return CAPMessage{}, ErrNotFound
	}
	if err != nil {
		return CAPMessage{}, fmt.Errorf("store: read CAP message: %w", err)
	}
	_ = json.Unmarshal([]byte(ids), &m.OverrideIDs)
	m.Result = []byte(result)
	m.CreatedAt = parseTS(created)
	return m, nil
}

// RecordCAPMessage stores an accepted CAP message. A message with the same
// key in the organisation returns the stored one and ErrConflict.
func (s *Store) RecordCAPMessage(ctx context.Context, m CAPMessage) (CAPMessage, error) {
	if m.ID == "" {
		m.ID = NewID("cap")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	if len(m.Result) == 0 {
		m.Result = []byte("{}")
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO cap_messages (`+capCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.OrgID, m.Source, m.Key, m.Status, m.MsgType, m.Outcome, jsonList(m.OverrideIDs), string(m.Result), m.ReceivedBy, m.ReceivedFrom, ts(m.CreatedAt))
	if isUnique(err) {
		prev, perr := s.CAPMessageByKey(ctx, m.OrgID, m.Key)
		if perr != nil {
			return CAPMessage{}, perr
		}
		return prev, ErrConflict
	}
	if err != nil {
		return CAPMessage{}, fmt.Errorf("store: record CAP message: %w", err)
	}
	return m, nil
}

// CAPMessageByKey finds an accepted CAP message by its key.
func (s *Store) CAPMessageByKey(ctx context.Context, orgID, key string) (CAPMessage, error) {
	return scanCAP(s.db.QueryRowContext(ctx, `SELECT `+capCols+` FROM cap_messages WHERE org_id = ? AND msg_key = ?`, orgID, key))
}

// Audit actions of the CAP intake.
const (
	AuditCAPAccepted  = "cap.accepted"
	AuditCAPRefused   = "cap.refused"
	AuditCAPDuplicate = "cap.duplicate"
)

// CAPMessages lists an organisation's accepted CAP messages, newest
// first, at most limit.
func (s *Store) CAPMessages(ctx context.Context, orgID string, limit int) ([]CAPMessage, error) {
	return queryAll(ctx, s.db, "CAP messages", scanCAP,
		`SELECT `+capCols+` FROM cap_messages WHERE org_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, orgID, limit)
}
