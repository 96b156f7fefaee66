package main

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/keyhall/keyhall/authn"
)

// yamlDecoder walks a YAML syntax tree against Config's type, setting each
// field and recording every unknown key and wrong type with its line, so
// that all of them are reported at once.
type yamlDecoder struct {
	l       *loader
	file    string
	anchors map[string]ast.Node // &name → its value, as met in document order
	lines   [][]byte            // the file's lines, to see what YAML took for a comment
}

// decodeYAML parses b, the content of file, and decodes it into l.cfg.
func (l *loader) decodeYAML(file string, b []byte) {
	defer l.refuseNotUTF8(file, b) // after decoding, to name the settings
	f, err := parseYAML(b)
	if err != nil {
		line := 0
		var yerr yaml.Error
		if errors.As(err, &yerr) && yerr.GetToken() != nil && yerr.GetToken().Position != nil {
			line = yerr.GetToken().Position.Line
			err = errors.New(yerr.GetMessage())
		}
		l.fail(origin{file: file, line: line}, "", "invalid YAML: %v", err)
		return
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || isEmpty(doc.Body) {
			continue
		}
		if body != nil {
			l.fail(origin{file: file, line: line(doc.Body)}, "", "a second YAML document; the file must hold one")
			return
		}
		body = doc.Body
	}
	if body == nil { // an empty file sets nothing
		return
	}
	d := &yamlDecoder{l: l, file: file, anchors: map[string]ast.Node{}, lines: bytes.Split(b, []byte("\n"))}
	d.decode(reflect.ValueOf(&l.cfg).Elem(), body, place{})
}

// refuseNotUTF8 names each line of the file that is not valid UTF-8 (a
// Latin-1 "ü" from an old editor), with the setting written there: the
// YAML parser reads such a byte as U+FFFD, so the decoded value cannot
// tell (#17).
func (l *loader) refuseNotUTF8(file string, b []byte) {
	for i, ln := range bytes.Split(b, []byte("\n")) {
		if utf8.Valid(ln) {
			continue
		}
		path, at := "", 0 // the setting that starts last at or before the line
		for p, o := range l.origins {
			if o.file == file && o.line <= i+1 && (o.line > at || o.line == at && len(p) > len(path)) {
				path, at = p, o.line
			}
		}
		switch {
		case at == i+1: // the setting's own line
			l.undecoded[path] = true
			l.fail(origin{file: file, line: i + 1}, path, "value is not valid UTF-8; save the file as UTF-8")
		case path != "": // a comment, or a later line of a block
			l.fail(origin{file: file, line: i + 1}, "", "this line (after %s) is not valid UTF-8; save the file as UTF-8", path)
		default:
			l.fail(origin{file: file, line: i + 1}, "", "this line is not valid UTF-8; save the file as UTF-8")
		}
	}
}

// parseYAML parses b, turning a panic in the parser into an error: bad
// input must never crash Keyhall.
func parseYAML(b []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input: %v", r)
		}
	}()
	return parser.ParseBytes(b, 0)
}

// isEmpty reports whether n holds no value: nothing, or only comments.
func isEmpty(n ast.Node) bool {
	if n == nil {
		return true
	}
	switch n.(type) {
	case *ast.CommentGroupNode, *ast.CommentNode:
		return true
	}
	return false
}

// line returns the line of n's first token, or 0.
func line(n ast.Node) int {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func (d *yamlDecoder) fail(n ast.Node, path, format string, args ...any) {
	d.l.fail(origin{file: d.file, line: line(n)}, path, format, args...)
	d.l.undecoded[path] = true
}

// resolve looks through anchors, tags and aliases to the value node.
func (d *yamlDecoder) resolve(n ast.Node) (ast.Node, error) {
	for range 16 {
		switch t := n.(type) {
		case *ast.AnchorNode:
			if t.Name != nil {
				d.anchors[t.Name.GetToken().Value] = t.Value
			}
			n = t.Value
		case *ast.TagNode:
			n = t.Value
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			v, ok := d.anchors[name]
			if !ok {
				return nil, fmt.Errorf("alias *%s names no anchor before it", name)
			}
			n = v
		default:
			return n, nil
		}
	}
	return nil, errors.New("aliases nest too deep")
}

// decode sets v, at place at, from node n.
func (d *yamlDecoder) decode(v reflect.Value, n ast.Node, at place) {
	node := n
	n, err := d.resolve(n)
	if err != nil {
		d.fail(node, at.path, "%v", err)
		return
	}
	if _, null := n.(*ast.NullNode); null || n == nil {
		return // "key:" with nothing keeps the default
	}
	d.l.origins[at.path] = origin{file: d.file, line: line(node)}
	switch {
	case isSection(v.Type()):
		d.decodeSection(v, n, at)
	case isSectionMap(v.Type()):
		d.decodeMap(v, n, at)
	case v.Kind() == reflect.Slice:
		d.decodeList(v, n, at)
	default:
		if err := setFromNode(v, n); err != nil {
			d.fail(node, at.path, "%v", err)
		}
	}
}

// mappingValues returns the entries of a mapping node.
func mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// decodeSection decodes a mapping into the struct v, reporting unknown keys.
func (d *yamlDecoder) decodeSection(v reflect.Value, n ast.Node, at place) {
	values, ok := mappingValues(n)
	if !ok {
		what := "the file"
		if at.path != "" {
			what = at.path
		}
		d.fail(n, at.path, "expected a mapping of settings for %s, got %s", what, describe(n))
		return
	}
	seen := map[string]int{}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		d.decodeEntry(v, mv, at, seen)
	}
}

// decodeEntry decodes one "key: value" of the section at into v.
func (d *yamlDecoder) decodeEntry(v reflect.Value, mv *ast.MappingValueNode, at place, seen map[string]int) {
	key, ok := d.key(mv, at, "a setting name")
	if !ok {
		return
	}
	full := at.field(key)
	if !d.once(mv, full, key, seen) {
		return
	}
	f, ok := fieldByName(v, key)
	if !ok {
		d.fail(mv.Key, full.path, "unknown setting%s", suggest(full.path, candidatesAt(at)))
		return
	}
	if _, null := mv.Value.(*ast.NullNode); null && strings.HasSuffix(key, "color") && d.colourComment(mv) {
		d.fail(mv, full.path, "the value is empty: an unquoted #colour is a YAML comment; put the colour in quotes (%s: \"#a4161a\")", key)
		return
	}
	d.decode(f, mv.Value, full)
	d.keyLine(full, mv)
}

// colourRE is a colour as CSS writes it, #rgb or #rrggbb, at the start of
// what YAML read as a comment.
var colourRE = regexp.MustCompile(`^\s*#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?(?:\s|$)`)

// colourComment reports whether the entry mv (a colour setting), which has
// no value, is followed on its line by a comment that looks like a colour:
// "primary_color: #a4161a" unquoted, which YAML reads as an empty value
// and a comment (review of #16: the colour was silently lost).
func (d *yamlDecoder) colourComment(mv *ast.MappingValueNode) bool {
	n := line(mv.Key)
	if n < 1 || n > len(d.lines) {
		return false
	}
	text := string(d.lines[n-1])
	i := strings.Index(text, ":")
	return i >= 0 && colourRE.MatchString(text[i+1:])
}

// key returns the text of mv's key in the mapping at, which must be plain
// text (a number is read as written), or reports why it cannot be a key;
// what names the key in that report ("a setting name").
func (d *yamlDecoder) key(mv *ast.MappingValueNode, at place, what string) (string, bool) {
	if mv.Key.IsMergeKey() {
		d.fail(mv.Key, at.path, "merge keys (<<) are not supported; write the settings out")
		return "", false
	}
	switch k := mv.Key.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.IntegerNode:
		return k.GetToken().Value, true // a name of digits
	}
	d.fail(mv.Key, at.path, "%s must be plain text, not %s", what, describe(mv.Key))
	return "", false
}

// once reports whether the key of mv, at place p, is met for the first
// time in its mapping; seen holds the line of each key met so far.
func (d *yamlDecoder) once(mv *ast.MappingValueNode, p place, key string, seen map[string]int) bool {
	if first, dup := seen[key]; dup {
		d.fail(mv.Key, p.path, "set twice (first on line %d)", first)
		return false
	}
	seen[key] = line(mv.Key)
	return true
}

// keyLine names the line of mv's key as where the setting at was set, if it
// was set: for a section written below its key, the value starts a line
// later.
func (d *yamlDecoder) keyLine(at place, mv *ast.MappingValueNode) {
	if o, ok := d.l.origins[at.path]; ok && line(mv.Key) > 0 {
		o.line = line(mv.Key)
		d.l.origins[at.path] = o
	}
}

// decodeMap decodes a mapping of names to sections into the map v, such as
// policy.groups. Its keys are data (group names), not settings: any name is
// accepted here, and Validate checks them.
func (d *yamlDecoder) decodeMap(v reflect.Value, n ast.Node, at place) {
	values, ok := mappingValues(n)
	if !ok {
		d.fail(n, at.path, "expected a mapping of names to settings, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(values))
	seen := map[string]int{}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		key, ok := d.key(mv, at, "a name")
		if !ok {
			continue
		}
		elem := at.key(key)
		if !d.once(mv, elem, key, seen) {
			continue
		}
		e := newElement(v.Type().Elem())
		d.l.origins[elem.path] = origin{file: d.file, line: line(mv.Key)}
		d.decode(e, mv.Value, elem)
		d.keyLine(elem, mv)
		m.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

// decodeList decodes a sequence into the slice v: of text, such as
// trusted_proxies, or of sections, such as forward_auth.rules.
func (d *yamlDecoder) decodeList(v reflect.Value, n ast.Node, at place) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.fail(n, at.path, "expected a list, got %s", describe(n))
		return
	}
	list := reflect.MakeSlice(v.Type(), 0, len(seq.Values))
	for i, item := range seq.Values {
		elem := at.index(i)
		d.l.origins[elem.path] = origin{file: d.file, line: line(item)}
		if plain, ok := item.(*ast.StringNode); ok && seq.IsFlowStyle && v.Type() == reflect.TypeFor[DNList]() &&
			plain.GetToken().Type == token.StringType {
			d.fail(item, at.path, "%q: in [ ], commas separate the items, which splits a DN; put each DN in quotes or write one per line (- …)", plain.Value)
			return
		}
		e := newElement(v.Type().Elem())
		if isSection(e.Type()) {
			d.decode(e, item, elem)
			list = reflect.Append(list, e)
			continue
		}
		r, err := d.resolve(item)
		if err == nil {
			err = setFromNode(e, r)
		}
		if err != nil { // kept as the zero value, so that the indexes stay the file's
			d.fail(item, elem.path, "%v", err)
		}
		list = reflect.Append(list, e)
	}
	v.Set(list)
}

// candidatesAt returns the setting paths to suggest for an unknown key in
// the section at: settingPaths, with the list indexes and map keys of at
// filled in ("forward_auth.rules[1].host").
func candidatesAt(at place) []string {
	paths := settingPaths()
	if at.pattern == at.path {
		return paths
	}
	for i, p := range paths {
		if rest, ok := strings.CutPrefix(p, at.pattern+"."); ok {
			paths[i] = at.path + "." + rest
		}
	}
	return paths
}

// elementDefaults is implemented by the element type of a list or map of
// sections whose settings have defaults other than the zero value: each
// element written in the file starts from them, as Config starts from
// defaultConfig.
type elementDefaults interface{ setDefaults() }

// newElement returns a new, settable element of type t, with its defaults.
func newElement(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if d, ok := p.Interface().(elementDefaults); ok {
		d.setDefaults()
	}
	return p.Elem()
}

// setFromNode sets the leaf v from the scalar n, checking its YAML type.
func setFromNode(v reflect.Value, n ast.Node) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		s, err := textOf(n)
		if err != nil {
			return err
		}
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		s, err := textOf(n)
		if err != nil {
			return err
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			return fmt.Errorf("expected true or false, got %s", describe(n))
		}
		v.SetBool(b.Value)
	case reflect.Int:
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			return fmt.Errorf("expected a whole number, got %s", describe(n))
		}
		var x int64
		switch n := i.Value.(type) {
		case int64:
			x = n
		case uint64:
			if n > math.MaxInt64 {
				return fmt.Errorf("%s is too large", i.Token.Value)
			}
			x = int64(n)
		}
		if x > math.MaxInt || x < math.MinInt {
			return fmt.Errorf("%s is too large", i.Token.Value)
		}
		v.SetInt(x)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

// textOf returns the text of a scalar: a string, a block literal, or a
// number as written (a port, a name of digits). A boolean, null, list or
// mapping is refused: text that reads as true or no needs quotes.
func textOf(n ast.Node) (string, error) {
	switch s := n.(type) {
	case *ast.StringNode:
		return s.Value, authn.CheckText(authn.TextSetting, s.Value)
	case *ast.LiteralNode:
		if s.Value != nil {
			return s.Value.Value, authn.CheckText(authn.TextSetting, s.Value.Value)
		}
		return "", nil
	case *ast.IntegerNode, *ast.FloatNode:
		return n.GetToken().Value, nil
	}
	return "", fmt.Errorf("expected text, got %s", describe(n))
}

// describe names the kind of a YAML node for error messages.
func describe(n ast.Node) string {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return "nothing"
	}
	switch n.Type() {
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.BoolType:
		return fmt.Sprintf("a boolean (%s; put it in quotes if you mean text)", n.GetToken().Value)
	case ast.NullType:
		return "null"
	case ast.IntegerType, ast.FloatType, ast.InfinityType, ast.NanType:
		return "a number (" + n.GetToken().Value + ")"
	case ast.StringType, ast.LiteralType:
		return "text"
	}
	return strings.ToLower(n.Type().String())
}
