package cap

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Status values (CAP 1.2 §3.2.1).
const (
	StatusActual   = "Actual"
	StatusExercise = "Exercise"
	StatusSystem   = "System"
	StatusTest     = "Test"
	StatusDraft    = "Draft"
)

// Message types.
const (
	MsgAlert  = "Alert"
	MsgUpdate = "Update"
	MsgCancel = "Cancel"
	MsgAck    = "Ack"
	MsgError  = "Error"
)

// Scopes.
const (
	ScopePublic     = "Public"
	ScopeRestricted = "Restricted"
	ScopePrivate    = "Private"
)

var (
	statuses   = set(StatusActual, StatusExercise, StatusSystem, StatusTest, StatusDraft)
	msgTypes   = set(MsgAlert, MsgUpdate, MsgCancel, MsgAck, MsgError)
	scopes     = set(ScopePublic, ScopeRestricted, ScopePrivate)
	categories = set("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other")
	responses  = set("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None")
	urgencies  = set("Immediate", "Expected", "Future", "Past", "Unknown")
	severities = set("Extreme", "Severe", "Moderate", "Minor", "Unknown")
	certainty  = set("Observed", "Likely", "Possible", "Unlikely", "Unknown")
)

func set(v ...string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}

// Key identifies a CAP message: CAP's own (sender, identifier, sent)
// triple, with sent normalised to UTC so that "-00:00" and "+00:00" forms
// of one instant are one key. Two messages with the same Key are
// duplicates; references name earlier messages by Key.
type Key struct {
	Sender     string `json:"sender"`
	Identifier string `json:"identifier"`
	Sent       string `json:"sent"` // RFC 3339 in UTC
}

func (k Key) String() string { return k.Sender + "," + k.Identifier + "," + k.Sent }

func makeKey(sender, id string, sent time.Time) Key {
	return Key{Sender: sender, Identifier: id, Sent: sent.UTC().Format(time.RFC3339)}
}

// Alert is one accepted CAP message.
type Alert struct {
	Version     string    `json:"cap_version"` // "1.2" or "1.1"
	Identifier  string    `json:"identifier"`
	Sender      string    `json:"sender"`
	Sent        time.Time `json:"sent"`
	Status      string    `json:"status"`
	MsgType     string    `json:"msg_type"`
	Source      string    `json:"source,omitempty"`
	Scope       string    `json:"scope"`
	Restriction string    `json:"restriction,omitempty"`
	Addresses   string    `json:"addresses,omitempty"`
	Codes       []string  `json:"codes,omitempty"`
	Note        string    `json:"note,omitempty"`
	References  []Key     `json:"references,omitempty"`
	Incidents   string    `json:"incidents,omitempty"`
	Info        []Info    `json:"info"`
}

// Info is one info block: the message in one language.
type Info struct {
	Language     string     `json:"language"` // as sent; "en-US" when absent
	Categories   []string   `json:"categories"`
	Event        string     `json:"event"`
	ResponseType []string   `json:"response_type,omitempty"`
	Urgency      string     `json:"urgency"`
	Severity     string     `json:"severity"`
	Certainty    string     `json:"certainty"`
	Audience     string     `json:"audience,omitempty"`
	EventCodes   []Pair     `json:"event_codes,omitempty"`
	Effective    time.Time  `json:"effective,omitzero"`
	Onset        time.Time  `json:"onset,omitzero"`
	Expires      time.Time  `json:"expires,omitzero"`
	SenderName   string     `json:"sender_name,omitempty"`
	Headline     string     `json:"headline,omitempty"`
	Description  string     `json:"description,omitempty"`
	Instruction  string     `json:"instruction,omitempty"`
	Web          string     `json:"web,omitempty"`
	Contact      string     `json:"contact,omitempty"`
	Parameters   []Pair     `json:"parameters,omitempty"`
	Resources    []Resource `json:"resources,omitempty"`
	Areas        []Area     `json:"areas,omitempty"`
}

// Pair is a valueName/value pair (eventCode, parameter, geocode).
type Pair struct {
	ValueName string `json:"value_name"`
	Value     string `json:"value"`
}

// Resource is a file that goes with an info block. Beacon never fetches
// the URI while parsing (the server's intake fetches it afterwards, under
// its source's rules).
type Resource struct {
	Description string `json:"description"`
	MimeType    string `json:"mime_type"`
	Size        int64  `json:"size,omitempty"` // bytes, 0 when not given
	URI         string `json:"uri,omitempty"`
	Digest      string `json:"digest,omitempty"` // SHA-1 hex as CAP defines it
	// DerefURI is the file itself, base64-encoded in the message (CAP's
	// derefUri), as sent; DerefBytes its length once decoded (0: none, or
	// not valid base64).
	DerefURI   string `json:"-"`
	DerefBytes int    `json:"deref_bytes,omitempty"`
}

// Deref decodes DerefURI (base64, white space ignored).
func (r Resource) Deref() ([]byte, error) {
	s := strings.Map(func(c rune) rune {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return -1
		}
		return c
	}, r.DerefURI)
	return base64.StdEncoding.DecodeString(s)
}

// Area is one area block.
type Area struct {
	Description string    `json:"description"`
	Polygons    []Polygon `json:"polygons,omitempty"`
	Circles     []Circle  `json:"circles,omitempty"`
	Geocodes    []Pair    `json:"geocodes,omitempty"`
	Altitude    *float64  `json:"altitude,omitempty"` // feet above mean sea level
	Ceiling     *float64  `json:"ceiling,omitempty"`
}

// identifier and sender: no whitespace, comma, < or & (CAP 1.2 §3.2.1).
var idForm = regexp.MustCompile(`^[^\s,<&]+$`)

// CAP dateTime: YYYY-MM-DDThh:mm:ss±hh:mm. "Z" and fractions are not
// allowed by the specification's schema, and so not accepted here.
var dateTimeForm = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[-+]\d{2}:\d{2}$`)

// ParseTime parses CAP's dateTime form.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if !dateTimeForm.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not a CAP dateTime (YYYY-MM-DDThh:mm:ss±hh:mm, no \"Z\")", s)
	}
	return time.Parse("2006-01-02T15:04:05-07:00", s)
}

// ParseReferences parses a references value: whitespace-separated
// "sender,identifier,sent" triples.
func ParseReferences(s string) ([]Key, error) {
	var out []Key
	for _, f := range strings.Fields(s) {
		parts := strings.Split(f, ",")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("reference %q is not sender,identifier,sent", f)
		}
		t, err := ParseTime(parts[2])
		if err != nil {
			return nil, fmt.Errorf("reference %q: %v", f, err)
		}
		out = append(out, makeKey(parts[0], parts[1], t))
	}
	return out, nil
}

func invalid(format string, a ...any) error { return refuse(CodeInvalid, format, a...) }

func (r *rawAlert) build() (*Alert, error) {
	t := strings.TrimSpace
	a := &Alert{
		Identifier:  t(r.Identifier),
		Sender:      t(r.Sender),
		Status:      t(r.Status),
		MsgType:     t(r.MsgType),
		Source:      t(r.Source),
		Scope:       t(r.Scope),
		Restriction: t(r.Restriction),
		Addresses:   t(r.Addresses),
		Note:        t(r.Note),
		Incidents:   t(r.Incidents),
	}
	for _, c := range r.Code {
		if c = t(c); c != "" {
			a.Codes = append(a.Codes, c)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"identifier", a.Identifier}, {"sender", a.Sender}, {"sent", t(r.Sent)},
		{"status", a.Status}, {"msgType", a.MsgType}, {"scope", a.Scope},
	} {
		if f.v == "" {
			return nil, invalid("required element <%s> is missing or empty", f.name)
		}
	}
	if !idForm.MatchString(a.Identifier) {
		return nil, invalid("identifier %q contains a space, comma, < or &", a.Identifier)
	}
	if !idForm.MatchString(a.Sender) {
		return nil, invalid("sender %q contains a space, comma, < or &", a.Sender)
	}
	sent, err := ParseTime(r.Sent)
	if err != nil {
		return nil, invalid("sent: %v", err)
	}
	a.Sent = sent
	if !statuses[a.Status] {
		return nil, invalid("status %q is not one of Actual, Exercise, System, Test, Draft", a.Status)
	}
	if !msgTypes[a.MsgType] {
		return nil, invalid("msgType %q is not one of Alert, Update, Cancel, Ack, Error", a.MsgType)
	}
	if !scopes[a.Scope] {
		return nil, invalid("scope %q is not one of Public, Restricted, Private", a.Scope)
	}
	if a.Scope == ScopeRestricted && a.Restriction == "" {
		return nil, invalid("scope Restricted needs a <restriction>")
	}
	if a.Scope == ScopePrivate && a.Addresses == "" {
		return nil, invalid("scope Private needs <addresses>")
	}
	if a.References, err = ParseReferences(r.References); err != nil {
		return nil, invalid("references: %v", err)
	}
	if a.MsgType == MsgCancel && len(a.References) == 0 {
		return nil, invalid("a Cancel must name the messages it ends in <references>")
	}
	for i := range r.Info {
		in, err := r.Info[i].build()
		if err != nil {
			return nil, invalid("info %d: %s", i+1, reasonOf(err))
		}
		a.Info = append(a.Info, in)
	}
	if a.Info == nil {
		a.Info = []Info{}
	}
	return a, nil
}

func reasonOf(err error) string {
	if r, ok := Refusal(err); ok {
		return r.Reason
	}
	return err.Error()
}

func (r *rawInfo) build() (Info, error) {
	t := strings.TrimSpace
	in := Info{
		Language:    t(r.Language),
		Event:       t(r.Event),
		Urgency:     t(r.Urgency),
		Severity:    t(r.Severity),
		Certainty:   t(r.Certainty),
		Audience:    t(r.Audience),
		SenderName:  t(r.SenderName),
		Headline:    t(r.Headline),
		Description: t(r.Description),
		Instruction: t(r.Instruction),
		Web:         t(r.Web),
		Contact:     t(r.Contact),
	}
	if in.Language == "" {
		in.Language = "en-US" // CAP's default
	}
	for _, c := range r.Category {
		c = t(c)
		if !categories[c] {
			return in, invalid("category %q is not a CAP category", c)
		}
		in.Categories = append(in.Categories, c)
	}
	if len(in.Categories) == 0 {
		return in, invalid("required element <category> is missing")
	}
	if in.Event == "" {
		return in, invalid("required element <event> is missing or empty")
	}
	for _, c := range r.ResponseType {
		c = t(c)
		if !responses[c] {
			return in, invalid("responseType %q is not a CAP response type", c)
		}
		in.ResponseType = append(in.ResponseType, c)
	}
	if in.Certainty == "Very Likely" { // CAP 1.0/1.1 form, "Likely" since
		in.Certainty = "Likely"
	}
	for _, f := range []struct {
		name, v string
		ok      map[string]bool
	}{{"urgency", in.Urgency, urgencies}, {"severity", in.Severity, severities}, {"certainty", in.Certainty, certainty}} {
		if f.v == "" {
			return in, invalid("required element <%s> is missing or empty", f.name)
		}
		if !f.ok[f.v] {
			return in, invalid("%s %q is not a CAP %s value", f.name, f.v, f.name)
		}
	}
	var err error
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Time
	}{{"effective", r.Effective, &in.Effective}, {"onset", r.Onset, &in.Onset}, {"expires", r.Expires, &in.Expires}} {
		if t(f.v) == "" {
			continue
		}
		if *f.dst, err = ParseTime(f.v); err != nil {
			return in, invalid("%s: %v", f.name, err)
		}
	}
	in.EventCodes = pairs(r.EventCode)
	in.Parameters = pairs(r.Parameter)
	for i, rr := range r.Resource {
		res := Resource{Description: t(rr.ResourceDesc), MimeType: t(rr.MimeType), URI: t(rr.URI), Digest: t(rr.Digest), DerefURI: rr.DerefURI}
		if res.DerefURI != "" {
			if b, err := res.Deref(); err == nil {
				res.DerefBytes = len(b)
			}
		}
		if res.Description == "" {
			return in, invalid("resource %d: required element <resourceDesc> is missing", i+1)
		}
		if res.MimeType == "" {
			return in, invalid("resource %d: required element <mimeType> is missing", i+1)
		}
		if s := t(rr.Size); s != "" {
			if res.Size, err = strconv.ParseInt(s, 10, 64); err != nil || res.Size < 0 {
				return in, invalid("resource %d: size %q is not a whole number of bytes", i+1, s)
			}
		}
		in.Resources = append(in.Resources, res)
	}
	for i := range r.Area {
		ar, err := r.Area[i].build()
		if err != nil {
			return in, invalid("area %d: %s", i+1, reasonOf(err))
		}
		in.Areas = append(in.Areas, ar)
	}
	return in, nil
}

func pairs(raw []rawPair) []Pair {
	var out []Pair
	for _, p := range raw {
		out = append(out, Pair{ValueName: strings.TrimSpace(p.ValueName), Value: strings.TrimSpace(p.Value)})
	}
	return out
}

func (r *rawArea) build() (Area, error) {
	ar := Area{Description: strings.TrimSpace(r.AreaDesc)}
	if ar.Description == "" {
		return ar, invalid("required element <areaDesc> is missing")
	}
	for _, s := range r.Polygon {
		p, err := ParsePolygon(s)
		if err != nil {
			return ar, invalid("polygon: %v", err)
		}
		ar.Polygons = append(ar.Polygons, p)
	}
	for _, s := range r.Circle {
		c, err := ParseCircle(s)
		if err != nil {
			return ar, invalid("circle: %v", err)
		}
		ar.Circles = append(ar.Circles, c)
	}
	ar.Geocodes = pairs(r.Geocode)
	for _, f := range []struct {
		name string
		v    string
		dst  **float64
	}{{"altitude", r.Altitude, &ar.Altitude}, {"ceiling", r.Ceiling, &ar.Ceiling}} {
		if s := strings.TrimSpace(f.v); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return ar, invalid("%s %q is not a number", f.name, s)
			}
			*f.dst = &v
		}
	}
	if ar.Ceiling != nil && ar.Altitude == nil {
		return ar, invalid("ceiling needs altitude")
	}
	return ar, nil
}

// Key returns the message's (sender, identifier, sent) key, used to ignore
// duplicates and to match references.
func (a *Alert) Key() Key { return makeKey(a.Sender, a.Identifier, a.Sent) }

// Expires is the latest expires of the info blocks: the alert is current
// while any of its info blocks is. ok is false when an info block has no
// expires (or there is none), and the caller applies its default expiry.
func (a *Alert) Expires() (t time.Time, ok bool) {
	if len(a.Info) == 0 {
		return time.Time{}, false
	}
	for _, in := range a.Info {
		if in.Expires.IsZero() {
			return time.Time{}, false
		}
		if in.Expires.After(t) {
			t = in.Expires
		}
	}
	return t, true
}

// Start is when the alert is to be on screens: for each info block its
// effective time, or, when it gives none, its onset; the earliest over
// the info blocks (the alert is shown while any of them is in force).
// Zero when an info block gives neither (in force when sent). An info
// block with an effective time before its onset is shown from the
// effective time: a warning is in force before the event it warns of.
func (a *Alert) Start() time.Time {
	var start time.Time
	for i, in := range a.Info {
		t := in.Effective
		if t.IsZero() {
			t = in.Onset
		}
		if t.IsZero() {
			return time.Time{}
		}
		if i == 0 || t.Before(start) {
			start = t
		}
	}
	return start
}

// Text is what a screen shows for one language.
type Text struct {
	Language    string `json:"language"` // the info block's tag, e.g. "en-CA"
	Level       Level  `json:"level"`
	Event       string `json:"event"`
	Headline    string `json:"headline,omitempty"`
	Description string `json:"description,omitempty"`
	Instruction string `json:"instruction,omitempty"`
}

// Body joins headline, description and instruction with blank lines,
// leaving out the empty ones. With no headline, the event names the alert.
func (t Text) Body() string {
	head := t.Headline
	if head == "" {
		head = t.Event
	}
	var parts []string
	for _, s := range []string{head, t.Description, t.Instruction} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n\n")
}

// BaseLanguage reduces a language tag to its primary subtag in lower case
// ("en-CA" → "en", "zh-Hant-TW" → "zh"), the form Beacon's overrides use.
func BaseLanguage(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return tag
}

// Texts returns the texts by base language ("en", "fr", "vi"…). When
// several info blocks share a base language, the one with the highest
// level wins, then the first in the document.
func (a *Alert) Texts() map[string]Text {
	out := map[string]Text{}
	for _, in := range a.Info {
		lang := BaseLanguage(in.Language)
		txt := Text{Language: in.Language, Level: in.Level(), Event: in.Event, Headline: in.Headline, Description: in.Description, Instruction: in.Instruction}
		if old, ok := out[lang]; ok && old.Level.rank() >= txt.Level.rank() {
			continue
		}
		out[lang] = txt
	}
	return out
}

// Languages lists the base languages of Texts, sorted.
func (a *Alert) Languages() []string {
	var out []string
	for l := range a.Texts() {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Audience says which screens may show an alert.
type Audience string

const (
	AudiencePublic Audience = "public" // every targeted display
	AudienceTest   Audience = "test"   // only targeted displays tagged "test"
	AudienceNone   Audience = "none"   // no display
)

// TestTag is the display tag that receives Test alerts.
const TestTag = "test"

// Audience applies Beacon's rule for screens, and says why:
//   - status Actual with scope Public: public;
//   - status Test: only displays tagged "test";
//   - status Exercise, System or Draft: none, never on a public screen;
//   - scope Restricted or Private (an Actual alert): none, screens are public;
//   - msgType Ack or Error: none, they talk to the sender's system.
//
// Update and Cancel follow the same rule for what they show; what they end
// (their references) is the override layer's business.
func (a *Alert) Audience() (Audience, string) {
	if a.MsgType == MsgAck || a.MsgType == MsgError {
		return AudienceNone, "msgType " + a.MsgType + " is not shown on screens"
	}
	switch a.Status {
	case StatusTest:
		return AudienceTest, "status Test: only displays tagged \"" + TestTag + "\""
	case StatusExercise, StatusSystem, StatusDraft:
		return AudienceNone, "status " + a.Status + " never reaches public screens"
	}
	if a.Scope != ScopePublic {
		return AudienceNone, "scope " + a.Scope + " is not for public screens"
	}
	return AudiencePublic, "status Actual, scope Public"
}

// PublicScreens reports whether the alert may reach public screens.
func (a *Alert) PublicScreens() bool {
	au, _ := a.Audience()
	return au == AudiencePublic
}

// Supersedes lists the messages this one updates or cancels (its
// references), empty for other message types.
func (a *Alert) Supersedes() []Key {
	if a.MsgType == MsgUpdate || a.MsgType == MsgCancel {
		return a.References
	}
	return nil
}

// Areas returns every area of every info block, in document order.
func (a *Alert) Areas() []Area {
	var out []Area
	for _, in := range a.Info {
		out = append(out, in.Areas...)
	}
	return out
}

// Covers reports whether the point lies in a polygon or circle of any area.
// Areas described only by geocodes cover no point.
func (a *Alert) Covers(p Point) bool {
	for _, ar := range a.Areas() {
		if ar.Contains(p) {
			return true
		}
	}
	return false
}
