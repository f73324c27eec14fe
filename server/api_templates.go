package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"beacon/protocol"
	"beacon/server/store"
)

// Override templates (docs/emergency.md, "Templates"): an alert prepared
// in advance (flood, evacuation, border closure…) with texts per language
// holding {placeholders} named by its fields, so that on the day an
// authority fills in the blanks and sends. Everyone in the organisation
// reads them; admins and authorities write them. A template is never sent
// as it is: the console (or a script) turns it into a POST /overrides.

// overrideTemplate is a template's stored body.
type overrideTemplate struct {
	// Topic sorts templates (flood, evacuation, border_closure, …; free).
	Topic string `json:"topic,omitempty"`
	// Name per language, e.g. {"vi": "Cảnh báo lũ", "en": "Flood warning"}.
	Name         map[string]string `json:"name"`
	Level        string            `json:"level"`
	Presentation string            `json:"presentation"`
	Position     string            `json:"position,omitempty"`
	Text         map[string]string `json:"text"`
	Fields       []templateField   `json:"fields"`
	Tone         *protocol.Tone    `json:"tone,omitempty"`
	ExpiresInS   float64           `json:"expires_in_s,omitempty"`
	Wake         *bool             `json:"wake,omitempty"`
}

// templateField is one blank of a template's texts: {name} in each text.
type templateField struct {
	Name  string            `json:"name"`
	Label map[string]string `json:"label"`
}

var (
	fieldNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	placeholderRE = regexp.MustCompile(`\{([a-z][a-z0-9_]{0,31})\}`)
)

const maxTemplateFields = 20

func checkLangMap(field string, m map[string]string, maxLen int, required bool) error {
	if required && len(m) == 0 {
		return invalid(field + ` needs at least one language, e.g. {"vi": "…", "en": "…"}`)
	}
	if err := checkCount(field, len(m), maxVariants); err != nil {
		return err
	}
	for lang, v := range m {
		if lang == "" || len(lang) > 16 || strings.ContainsAny(lang, " \t\n") {
			return invalid(fmt.Sprintf("%s: %q is not a language code (vi, en, zh…)", field, lang))
		}
		if strings.TrimSpace(v) == "" {
			return invalid(field + "." + lang + " is empty")
		}
		if err := checkLen(field+"."+lang, v, maxLen); err != nil {
			return err
		}
	}
	return nil
}

// checkTemplate decodes and validates a template body.
func (s *Server) checkTemplate(c *fiber.Ctx) ([]byte, error) {
	var t overrideTemplate
	if err := decodeJSON(c, &t); err != nil {
		return nil, err
	}
	if err := checkShort("topic", t.Topic); err != nil {
		return nil, err
	}
	if err := checkLangMap("name", t.Name, maxNameLen, true); err != nil {
		return nil, err
	}
	for lang, n := range t.Name {
		if err := checkName("name."+lang, &n, true); err != nil {
			return nil, err
		}
		t.Name[lang] = n
	}
	if protocol.LevelRank(t.Level) == 0 {
		return nil, invalid("level must be info, warning or critical")
	}
	switch t.Presentation {
	case protocol.PresentFullscreen, protocol.PresentBanner, protocol.PresentBlank, protocol.PresentSlate:
	default:
		return nil, invalid("presentation must be fullscreen, banner, blank or slate")
	}
	if t.Position != "" && (t.Presentation != protocol.PresentBanner || (t.Position != "top" && t.Position != "bottom")) {
		return nil, invalid("position applies to banners only: top or bottom")
	}
	textRequired := t.Presentation == protocol.PresentFullscreen || t.Presentation == protocol.PresentBanner
	if err := checkLangMap("text", t.Text, maxTextLen, textRequired); err != nil {
		return nil, err
	}
	if err := checkCount("fields", len(t.Fields), maxTemplateFields); err != nil {
		return nil, err
	}
	declared := map[string]bool{}
	for i, f := range t.Fields {
		where := fmt.Sprintf("fields[%d]", i)
		if !fieldNameRE.MatchString(f.Name) {
			return nil, invalid(where + ".name must be lower-case letters, digits and _ (a-z first, at most 32), as in {area}")
		}
		if declared[f.Name] {
			return nil, invalid(where + ".name " + f.Name + " is used twice")
		}
		declared[f.Name] = true
		if err := checkLangMap(where+".label", f.Label, maxNameLen, true); err != nil {
			return nil, err
		}
	}
	for _, lang := range sortedKeys(t.Text) {
		for _, m := range placeholderRE.FindAllStringSubmatch(t.Text[lang], -1) {
			if !declared[m[1]] {
				return nil, invalid(fmt.Sprintf("text.%s uses {%s}, which fields does not declare", lang, m[1]))
			}
		}
	}
	if t.Tone != nil && t.Tone.Kind != "alert" && t.Tone.Kind != "none" {
		return nil, invalid("tone.kind must be alert or none")
	}
	if t.Tone != nil && (t.Tone.Repeat < 0 || t.Tone.Repeat > 20) {
		return nil, invalid("tone.repeat must be 0 to 20")
	}
	if t.ExpiresInS < 0 || t.ExpiresInS > s.cfg.OverrideMaxExpiry.Seconds() {
		return nil, invalid(fmt.Sprintf("expires_in_s must be 0 (the default of %s) to %.0f seconds (--override-max-expiry)", DefaultOverrideExpiry, s.cfg.OverrideMaxExpiry.Seconds()))
	}
	if t.Fields == nil {
		t.Fields = []templateField{}
	}
	if t.Text == nil {
		t.Text = map[string]string{}
	}
	return json.Marshal(t)
}

func (s *Server) getTemplate(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.Doc(ctx, store.OverrideTemplates, who(c).OrgID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(docView(d))
}

func (s *Server) createTemplate(c *fiber.Ctx) error {
	body, err := s.checkTemplate(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout()
	defer cancel()
	d, err := s.store.CreateDoc(ctx, store.OverrideTemplates, store.Doc{ID: store.NewDocID(store.OverrideTemplates), OrgID: who(c).OrgID, Body: body})
	if err != nil {
		return err
	}
	s.audit(ctx, who(c), s.clientAddr(c), store.AuditTemplateChange, d.ID, "created")
	return c.Status(fiber.StatusCreated).JSON(docView(d))
}

func (s *Server) updateTemplate(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	id := c.Params("id")
	if _, err := s.store.Doc(ctx, store.OverrideTemplates, who(c).OrgID, id); err != nil {
		return err
	}
	body, err := s.checkTemplate(c)
	if err != nil {
		return err
	}
	d, err := s.store.UpdateDoc(ctx, store.OverrideTemplates, store.Doc{ID: id, OrgID: who(c).OrgID, Body: body})
	if err != nil {
		return err
	}
	s.audit(ctx, who(c), s.clientAddr(c), store.AuditTemplateChange, d.ID, "updated")
	return c.JSON(docView(d))
}

func (s *Server) deleteTemplate(c *fiber.Ctx) error {
	ctx, cancel := s.timeout()
	defer cancel()
	if err := s.store.DeleteDoc(ctx, store.OverrideTemplates, who(c).OrgID, c.Params("id")); err != nil {
		return err
	}
	s.audit(ctx, who(c), s.clientAddr(c), store.AuditTemplateChange, c.Params("id"), "deleted")
	return c.SendStatus(fiber.StatusNoContent)
}
