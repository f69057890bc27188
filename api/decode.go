package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

var errNotJSON = &Error{fiber.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"}

// isJSON reports whether the request says its body is JSON. A form or
// text/plain body is refused, so a page on another site cannot post one
// with a plain HTML form (which cannot send application/json).
func isJSON(c *fiber.Ctx) bool {
	mt, _, _ := strings.Cut(string(c.Request().Header.ContentType()), ";")
	return strings.EqualFold(strings.TrimSpace(mt), fiber.MIMEApplicationJSON)
}

// decodeStrict reads one JSON value from body into v. Unknown fields, wrong
// types, trailing data and malformed JSON are answered with distinct codes.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("empty_body", "the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed_json", "the body has data after the JSON value")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("malformed_json", "the body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badRequest("invalid_type", "the body must be a JSON %s", typ.Type.Kind())
		}
		return badRequest("invalid_type", "field %q must be a %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return badRequest("unknown_field", "unknown field %s", name)
	default:
		return badRequest("malformed_json", "the body is not valid JSON")
	}
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "whole number"
	case strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "string":
		return "string"
	case goKind == "bool":
		return "boolean"
	case goKind == "slice":
		return "array"
	default:
		return "object"
	}
}

// bind decodes the request body into v and validates it when v knows how.
func bind(c *fiber.Ctx, v any) error {
	if len(bytes.TrimSpace(c.Body())) > 0 && !isJSON(c) {
		return errNotJSON
	}
	if err := decodeStrict(c.Body(), v); err != nil {
		return err
	}
	if val, ok := v.(interface{ validate() error }); ok {
		return val.validate()
	}
	return nil
}
