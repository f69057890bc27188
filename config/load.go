// The loader: it fills a configuration struct from a YAML file and then
// from environment variables, each value decoded once into its field's
// type: a field whose type reads text (encoding.TextUnmarshaler, such as
// domain.Ladder) reads it itself, Duration reads "15s". A key that is
// unknown or a value that does not parse is an error naming the key.

package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "15s" in YAML and environment.
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads "15s", "2m", "1h30m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q: %w", n.Line, n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// envNames lists the environment variables applyEnvTo reads for a struct
// like cfg: prefix, then each yaml tag in upper case, nested keys joined
// by _.
func envNames(cfg any, prefix string) []string {
	var names []string
	walkEnv(reflect.TypeOf(cfg), prefix, func(name string) { names = append(names, name) })
	return names
}

// applyEnvTo sets the fields of the struct dst points to from the variables
// envNames lists; an unset or empty variable keeps the field's value.
func applyEnvTo(dst any, prefix string, getenv func(string) string) error {
	return applyEnv(reflect.ValueOf(dst).Elem(), prefix, getenv)
}

func walkEnv(t reflect.Type, prefix string, fn func(string)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + strings.ToUpper(f.Tag.Get("yaml"))
		if f.Type.Kind() == reflect.Struct {
			walkEnv(f.Type, name+"_", fn)
			continue
		}
		fn(name)
	}
}

func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + strings.ToUpper(f.Tag.Get("yaml"))
		field := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(field, name+"_", getenv); err != nil {
				return err
			}
			continue
		}
		raw, ok := lookup(getenv, name)
		if !ok {
			continue
		}
		if err := setField(field, raw); err != nil {
			return fmt.Errorf("%s=%q: %w", name, raw, err)
		}
	}
	return nil
}

// lookup treats an unset and an empty variable alike: empty keeps the file's
// value or the default.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	if v == "" {
		return "", false
	}
	return v, true
}

func setField(field reflect.Value, raw string) error {
	if u, ok := field.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(raw))
	}
	if field.Type() == reflect.TypeOf(Duration(0)) {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		field.SetInt(int64(d))
		return nil
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		field.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported kind %s", field.Kind())
	}
	return nil
}

// decodeYAML sets the fields of the struct dst points to from the keys
// data names (by their yaml tags), each decoded into its field's type
// at once; an unknown key or a value that does not parse is an error that
// names the key.
func decodeYAML(data []byte, dst any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil // an empty file stands for "all defaults"
	}
	return decodeMapping(doc.Content[0], reflect.ValueOf(dst).Elem(), "")
}

func decodeMapping(m *yaml.Node, v reflect.Value, prefix string) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %swant a mapping of keys", m.Line, prefix)
	}
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		fields[v.Type().Field(i).Tag.Get("yaml")] = v.Field(i)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		field, ok := fields[key]
		if !ok {
			return fmt.Errorf("line %d: unknown key %s%s", m.Content[i].Line, prefix, key)
		}
		if field.Kind() == reflect.Struct {
			if err := decodeMapping(val, field, prefix+key+"."); err != nil {
				return err
			}
			continue
		}
		if err := val.Decode(field.Addr().Interface()); err != nil {
			return fmt.Errorf("%s%s: %w", prefix, key, err)
		}
	}
	return nil
}
