package main

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// origin tells where a setting's value came from, to name it in errors.
type origin struct {
	file string // the YAML file, with line
	line int
	env  string // the environment variable
	flag string // the command-line flag, e.g. "--listen"
}

func (o origin) String() string {
	switch {
	case o.flag != "":
		return "flag " + o.flag
	case o.env != "":
		return "environment " + o.env
	case o.line > 0:
		return fmt.Sprintf("%s:%d", o.file, o.line)
	}
	return o.file
}

// configError holds every problem that stopped a configuration from
// loading: a config file or environment to fix, not a runtime failure.
type configError struct {
	err error // errors.Join of the problems, each "WHERE: KEY: message"
}

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// problem is one thing wrong with a setting, where it was set.
type problem struct {
	at   origin
	path string // yaml path; "" for the file as a whole
	msg  string
}

func (p *problem) Error() string {
	var b strings.Builder
	if at := p.at.String(); at != "" {
		b.WriteString(at + ": ")
	}
	if p.path != "" {
		b.WriteString(p.path + ": ")
	}
	b.WriteString(p.msg)
	return b.String()
}

// loader builds a Config from its sources and remembers where each setting
// was set, to name that place in every problem.
type loader struct {
	cfg      Config
	origins  map[string]origin // yaml path → where it was last set
	problems []error
}

func (l *loader) fail(at origin, path, format string, args ...any) {
	l.problems = append(l.problems, &problem{at: at, path: path, msg: fmt.Sprintf(format, args...)})
}

// loadConfig reads the configuration: defaults, then the YAML file at path
// (none if path is ""), then the KEYHALL_… variables in env ("NAME=value"
// as from os.Environ). It reports every problem at once, each naming the
// file and line or the variable, in a *configError; the config is returned
// only if it is valid.
func loadConfig(path string, env []string) (Config, error) {
	return loadConfigWith(path, env, nil)
}

// flagSetting is a setting given on the command line, applied last.
type flagSetting struct {
	flag, path, value string
}

// loadConfigWith is loadConfig with command-line settings applied last.
func loadConfigWith(path string, env []string, flags []flagSetting) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Config{}, &configError{err: &problem{msg: fmt.Sprintf("read config: %v", err)}}
		}
	}
	return buildConfig(path, data, env, flags)
}

// buildConfig builds the configuration from the YAML data of file (none if
// file is ""), env and flags, and validates it.
func buildConfig(file string, data []byte, env []string, flags []flagSetting) (Config, error) {
	l := &loader{cfg: defaultConfig(), origins: map[string]origin{}}
	if file != "" {
		l.decodeYAML(file, data)
	}
	l.applyEnv(env)
	for _, f := range flags {
		l.set(origin{flag: f.flag}, f.path, f.value)
	}
	// A value that did not decode kept its valid default, so validating
	// now adds only the other problems.
	l.validate()
	slices.SortStableFunc(l.problems, byPlace)
	if len(l.problems) > 0 {
		return Config{}, &configError{err: errors.Join(l.problems...)}
	}
	return l.cfg, nil
}

// byPlace orders problems as a person fixes them: the file's, by line,
// then the environment's, then the flags'.
func byPlace(a, b error) int {
	rank := func(e error) (int, int) {
		p, ok := e.(*problem)
		switch {
		case !ok:
			return 0, 0
		case p.at.flag != "":
			return 3, 0
		case p.at.env != "":
			return 2, 0
		}
		return 1, p.at.line
	}
	ra, la := rank(a)
	rb, lb := rank(b)
	return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(la, lb))
}

// validate runs Config.Validate and names where each bad value was set.
func (l *loader) validate() {
	err := l.cfg.Validate()
	if err == nil {
		return
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var fe *fieldError
		if !errors.As(e, &fe) {
			l.problems = append(l.problems, e)
			continue
		}
		l.fail(l.originOf(fe.Path), fe.Path, "%s", fe.Msg)
	}
}

// originOf returns where path was set. A list element set in the file has
// its own line; a list set as a whole (environment, flag) is named whole.
func (l *loader) originOf(path string) origin {
	whole, _, isElem := strings.Cut(path, "[")
	if o, ok := l.origins[whole]; ok && (!isElem || o.line == 0) {
		return o
	}
	return l.origins[path]
}

// applyEnv applies the KEYHALL_… variables; an unknown one is a problem.
func (l *loader) applyEnv(env []string) {
	byName := map[string]string{}
	var names []string
	for _, s := range settingPaths() {
		byName[envName(s)] = s
		names = append(names, envName(s))
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		path, ok := byName[name]
		if !ok {
			l.fail(origin{env: name}, "", "unknown setting%s", suggest(name, names))
			continue
		}
		l.set(origin{env: name}, path, value)
	}
}

// set sets the leaf setting at path from text (environment or flag).
func (l *loader) set(at origin, path, text string) {
	v, ok := fieldByPath(reflect.ValueOf(&l.cfg).Elem(), path)
	if !ok {
		l.fail(at, path, "unknown setting")
		return
	}
	if err := setFromText(v, text); err != nil {
		l.fail(at, path, "%s", err.Error())
		return
	}
	for p := range l.origins { // the whole list replaces the file's elements
		if strings.HasPrefix(p, path+"[") {
			delete(l.origins, p)
		}
	}
	l.origins[path] = at
}

// setFromText sets a leaf from text: a list is comma-separated, with empty
// items dropped.
func setFromText(v reflect.Value, text string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(text))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
		v.SetInt(int64(n))
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from text (type %s)", v.Type())
	}
	return nil
}

// envPrefix starts the name of every Keyhall environment variable.
const envPrefix = "KEYHALL_"

// envName returns the environment variable for a yaml path:
// "tls.cert_file" → "KEYHALL_TLS_CERT_FILE".
func envName(path string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// settingPaths lists the yaml paths of every leaf setting of Config, in
// declaration order, found by reflection over the yaml tags.
func settingPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			p := prefix + yamlName(f)
			if isSection(f.Type) {
				walk(f.Type, p+".")
				continue
			}
			out = append(out, p)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// isSection reports whether t is a nested mapping of settings (a struct that
// is not itself a value read from text, like Duration).
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// yamlName returns a field's setting name from its yaml tag.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// fieldByName returns the field of struct v whose yaml name is name.
func fieldByName(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// fieldByPath returns the leaf setting at a dotted yaml path.
func fieldByPath(v reflect.Value, path string) (reflect.Value, bool) {
	for name := range strings.SplitSeq(path, ".") {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		var ok bool
		if v, ok = fieldByName(v, name); !ok {
			return reflect.Value{}, false
		}
	}
	return v, !isSection(v.Type())
}
