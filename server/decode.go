package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// decodeJSON is the one way a handler reads a JSON request body. It wants
// Content-Type: application/json (415 otherwise), refuses unknown fields
// (a misspelt rule is an error, not silently ignored) and anything after
// the one JSON value; every failure is 400 bad_json with a message naming
// the field or the byte offset.
func decodeJSON(c *fiber.Ctx, v any) error {
	ct := c.Get(fiber.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != fiber.MIMEApplicationJSON {
		got := "no Content-Type"
		if ct != "" {
			got = "Content-Type " + ct
		}
		return fail(fiber.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as JSON with Content-Type: application/json (got "+got+")")
	}
	// c.Body() reads a streamed body through whatever limit the request
	// carries.
	return decodeStrict(c.Body(), v)
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown
// fields.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badJSON("the request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badJSON(jsonProblem(err))
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badJSON(fmt.Sprintf("the request body must hold exactly one JSON value; more follows after byte %d", end))
	}
	return nil
}

func badJSON(msg string) error { return fail(fiber.StatusBadRequest, "bad_json", msg) }

// jsonProblem says what is wrong with a body in words a person can act on.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("the request body is not valid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("the request body must be %s, not %s", jsonKind(typ.Type), typ.Value)
		}
		return fmt.Sprintf("field %q must be %s, not %s (byte %d)", jsonPath(typ.Field), jsonKind(typ.Type), typ.Value, typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the request body ends in the middle of a JSON value"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + " in the request body"
	}
	return "the request body is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

// jsonPath drops the names of embedded Go structs ("Schedule.target" is
// "target" in the body): JSON names in the API are lower case.
func jsonPath(field string) string {
	var keep []string
	for _, p := range strings.Split(field, ".") {
		if p != "" && (p[0] < 'A' || p[0] > 'Z') {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ".")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind().String() {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	}
	return "of another type"
}
