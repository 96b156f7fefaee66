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

	"github.com/keyhall/keyhall/authn"
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
	cfg       Config
	origins   map[string]origin // yaml path → where it was last set
	undecoded map[string]bool   // yaml paths of the problems found while decoding
	problems  []error
}

// newLoader returns a loader that starts from the defaults.
func newLoader() *loader {
	return &loader{cfg: defaultConfig(), origins: map[string]origin{}, undecoded: map[string]bool{}}
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
	l := newLoader()
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
	l.readDirectoryFiles()
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
		if l.follows(fe.Path) {
			continue
		}
		msg := fe.Msg
		if fe.Other != "" && l.originOf(fe.Other).line > 0 {
			msg += fmt.Sprintf(" (line %d)", l.originOf(fe.Other).line)
		}
		l.fail(l.originOf(fe.Path), fe.Path, "%s", msg)
	}
}

// follows reports whether a problem Validate found with path follows from
// one found while decoding: the value at path did not decode, or path kept
// its default in a section where something did not (a misspelt key, a list
// element that is not a mapping).
func (l *loader) follows(path string) bool {
	if l.undecoded[path] {
		return true
	}
	parent := parentPath(path)
	if _, set := l.origins[path]; set || parent == "" {
		return false
	}
	for p := range l.undecoded {
		if p == parent || strings.HasPrefix(p, parent+".") || strings.HasPrefix(p, parent+"[") {
			return true
		}
	}
	return false
}

// originOf returns where path was set: where the setting itself was or,
// when it kept its default or was replaced as part of a whole list
// (environment, flag), where the nearest setting enclosing it was.
func (l *loader) originOf(path string) origin {
	for p := path; p != ""; p = parentPath(p) {
		if o, ok := l.origins[p]; ok {
			return o
		}
	}
	return origin{}
}

// parentPath returns the path of the setting enclosing path:
// "forward_auth.rules[1].host" → "forward_auth.rules[1]" →
// "forward_auth.rules" → "forward_auth" → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndex(path, "["); i > 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[:i]
	}
	return ""
}

// applyEnv applies the KEYHALL_… variables; an unknown one is a problem,
// and so is one that names a setting inside a list or map of sections.
func (l *loader) applyEnv(env []string) {
	byName := map[string]string{}
	var names []string
	lists := map[string]string{} // variable prefix → list or map of sections
	for _, s := range settingPaths() {
		if name, ok := envName(s); ok {
			byName[name] = s
			names = append(names, name)
		} else if c := collectionOf(s); c != "" {
			name, _ := envName(c)
			lists[name] = c
		}
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		if path, ok := byName[name]; ok {
			l.set(origin{env: name}, path, value)
			continue
		}
		if c := within(name, lists); c != "" {
			l.fail(origin{env: name}, c, "the settings in it have no environment variable; write them in the config file")
			continue
		}
		l.fail(origin{env: name}, "", "unknown setting%s", suggest(name, names))
	}
}

// within returns the list or map of sections whose variable prefix name
// is, or starts: lists maps "KEYHALL_POLICY_GROUPS" to "policy.groups".
func within(name string, lists map[string]string) string {
	best := ""
	for prefix, c := range lists {
		if (name == prefix || strings.HasPrefix(name, prefix+"_")) && len(c) > len(best) {
			best = c
		}
	}
	return best
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
	for p := range l.undecoded {
		if strings.HasPrefix(p, path+"[") {
			delete(l.undecoded, p)
		}
	}
	l.origins[path] = at
}

// setFromText sets a leaf from text: a list is comma-separated, with empty
// items dropped.
func setFromText(v reflect.Value, text string) error {
	if err := authn.CheckText(authn.TextSetting, text); err != nil {
		return err
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(text))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
		v.SetBool(b)
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

// envName returns the environment variable for a setting's path:
// "tls.cert_file" → "KEYHALL_TLS_CERT_FILE". A setting inside a list or map
// of sections (a pattern with "[]" or ".*", see settingPaths) has none:
// ok is false. Those are written in the config file only.
func envName(path string) (name string, ok bool) {
	if collectionOf(path) != "" {
		return "", false
	}
	return envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_")), true
}

// collectionOf returns the list or map of sections that the setting pattern
// is inside ("forward_auth.rules[].host" → "forward_auth.rules"), or "".
func collectionOf(pattern string) string {
	i := strings.Index(pattern, "[]")
	if j := strings.Index(pattern, ".*"); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return ""
	}
	return pattern[:i]
}

// settingPaths lists the patterns of every leaf setting of Config, in
// declaration order, found by reflection over the yaml tags. A setting in
// each element of a list of sections is written with "[]"
// ("forward_auth.rules[].host"), one in each value of a map of sections
// with "*" for the key ("policy.groups.*.level").
func settingPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			p := prefix + yamlName(f)
			switch {
			case isSection(f.Type):
				walk(f.Type, p+".")
			case isSectionList(f.Type):
				walk(f.Type.Elem(), p+"[].")
			case isSectionMap(f.Type):
				walk(f.Type.Elem(), p+".*.")
			default:
				out = append(out, p)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// place is where a value sits in Config: its path as messages name it
// ("forward_auth.rules[1].host", "policy.groups.rat.level") and its
// pattern as settingPaths lists it ("forward_auth.rules[].host",
// "policy.groups.*.level").
type place struct{ path, pattern string }

// field returns the place of the setting name in the section at p.
func (p place) field(name string) place {
	return place{joinKeyPath(p.path, name), joinKeyPath(p.pattern, name)}
}

// index returns the place of element i of the list at p.
func (p place) index(i int) place {
	return place{fmt.Sprintf("%s[%d]", p.path, i), p.pattern + "[]"}
}

// key returns the place of the value for key in the map at p.
func (p place) key(key string) place {
	return place{mapKeyPath(p.path, key), p.pattern + ".*"}
}

func joinKeyPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// mapKeyPath returns the path of the value for key in the map at prefix:
// "policy.groups.rat", or policy.groups["a.b"] for a key that would
// make the path ambiguous (or is empty, or holds invisible characters).
func mapKeyPath(prefix, key string) string {
	if q := strconv.Quote(key); key == "" || strings.ContainsAny(key, ".[]*\" ") || q[1:len(q)-1] != key {
		return prefix + "[" + q + "]"
	}
	return prefix + "." + key
}

// isSection reports whether t is a nested mapping of settings (a struct that
// is not itself a value read from text, like Duration).
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// isSectionList reports whether t is a list of sections.
func isSectionList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && isSection(t.Elem())
}

// isSectionMap reports whether t is a map of sections by name.
func isSectionMap(t reflect.Type) bool {
	return t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && isSection(t.Elem())
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
