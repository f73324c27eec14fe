package server

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"beacon/playlists"
)

// Text field limits of the API, in characters (Unicode code points). They
// are documented in the OpenAPI document and docs/api.md; a value over
// its limit is refused with 400 invalid naming the field.
const (
	maxNameLen     = 200   // names of displays, clusters, playlists, items, layouts, schedules, holidays
	maxLocationLen = 500   // a cluster's location
	maxTextLen     = 10000 // a text or ticker item's text, per language
	maxURLLen      = 2048  // a web item's URL
	maxTagLen      = 64    // one tag; also one language code and one zone id
	maxTags        = 50    // tags or languages of a display
	maxVariants    = 50    // language variants of an item
	maxStyleLen    = 64    // colours and clock formats
	maxListLen     = 1000  // a schedule's targets, windows, exceptions; a cluster's holidays
	maxZones       = 32    // zones of a layout
)

// bidiControls are the Unicode bidirectional formatting characters: in a
// name they can make a display or playlist read as another one in the
// console and in logs ("Trojan Source"). Names holding them are refused,
// not silently cleaned, so what is stored is what the editor typed.
func isBidiControl(r rune) bool {
	switch {
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
		return true
	case r == '\u200E', r == '\u200F', r == '\u061C':
		return true
	}
	return false
}

// checkName trims a name and checks it: required if required, at most
// maxNameLen characters, valid UTF-8, no control or bidirectional
// formatting characters. field names it in the error.
func checkName(field string, v *string, required bool) error {
	*v = strings.TrimSpace(*v)
	if *v == "" {
		if required {
			return invalid(field + " is required")
		}
		return nil
	}
	if err := checkLen(field, *v, maxNameLen); err != nil {
		return err
	}
	for _, r := range *v {
		if isBidiControl(r) {
			return invalid(fmt.Sprintf("%s must not contain bidirectional control characters (U+%04X)", field, r))
		}
		if unicode.IsControl(r) {
			return invalid(fmt.Sprintf("%s must not contain control characters (U+%04X)", field, r))
		}
	}
	return nil
}

// checkLen refuses invalid UTF-8 and values over max characters.
func checkLen(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return invalid(field + " is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return invalid(fmt.Sprintf("%s is %d characters long; the limit is %d", field, n, max))
	}
	return nil
}

// checkShort checks a short token (tag, language, zone id): at most
// maxTagLen characters, no control or bidirectional characters.
func checkShort(field, v string) error {
	if err := checkLen(field, v, maxTagLen); err != nil {
		return err
	}
	for _, r := range v {
		if isBidiControl(r) || unicode.IsControl(r) {
			return invalid(fmt.Sprintf("%s must not contain control characters (U+%04X)", field, r))
		}
	}
	return nil
}

func checkCount(field string, n, max int) error {
	if n > max {
		return invalid(fmt.Sprintf("%s has %d entries; the limit is %d", field, n, max))
	}
	return nil
}

// checkList checks a display's tags or languages.
func checkList(field string, v []string) error {
	if err := checkCount(field, len(v), maxTags); err != nil {
		return err
	}
	for i, s := range v {
		if err := checkShort(fmt.Sprintf("%s[%d]", field, i), strings.TrimSpace(s)); err != nil {
			return err
		}
	}
	return nil
}

func checkTextStyle(field string, st *playlists.TextStyle) error {
	if st == nil {
		return nil
	}
	if err := checkLen(field+".color", st.Color, maxStyleLen); err != nil {
		return err
	}
	return checkLen(field+".background", st.Background, maxStyleLen)
}

func checkClockStyle(field string, st *playlists.ClockStyle) error {
	if st == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"format", st.Format}, {"color", st.Color}, {"background", st.Background}} {
		if err := checkLen(field+"."+f.name, f.v, maxStyleLen); err != nil {
			return err
		}
	}
	return nil
}

// cleanFilename makes an uploaded file's name a media item's name: the
// browser chose it, not the editor, so control and bidirectional
// characters are dropped and it is cut to maxNameLen characters rather
// than refused.
func cleanFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if isBidiControl(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > maxNameLen {
		name = string(r[:maxNameLen])
	}
	return strings.TrimSpace(name)
}

// unprocessable is an edit the server understood but will not apply,
// because a display could not play the result.
func unprocessable(code, msg string) error { return fail(fiber.StatusUnprocessableEntity, code, msg) }
