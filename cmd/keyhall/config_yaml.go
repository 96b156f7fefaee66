package main

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// yamlDecoder walks a YAML syntax tree against Config's type, setting each
// field and recording every unknown key and wrong type with its line, so
// that all of them are reported at once.
type yamlDecoder struct {
	l       *loader
	file    string
	anchors map[string]ast.Node // &name → its value, as met in document order
}

// decodeYAML parses b, the content of file, and decodes it into l.cfg.
func (l *loader) decodeYAML(file string, b []byte) {
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
	d := &yamlDecoder{l: l, file: file, anchors: map[string]ast.Node{}}
	d.decode(reflect.ValueOf(&l.cfg).Elem(), body, "")
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

// decode sets v, at yaml path, from node n.
func (d *yamlDecoder) decode(v reflect.Value, n ast.Node, path string) {
	at := n
	n, err := d.resolve(n)
	if err != nil {
		d.fail(at, path, "%v", err)
		return
	}
	if _, null := n.(*ast.NullNode); null || n == nil {
		return // "key:" with nothing keeps the default
	}
	d.l.origins[path] = origin{file: d.file, line: line(at)}
	switch {
	case isSection(v.Type()):
		d.decodeSection(v, n, path)
	case v.Kind() == reflect.Slice:
		d.decodeList(v, n, path)
	default:
		if err := setFromNode(v, n); err != nil {
			d.fail(at, path, "%v", err)
		}
	}
}

// decodeSection decodes a mapping into the struct v, reporting unknown keys.
func (d *yamlDecoder) decodeSection(v reflect.Value, n ast.Node, path string) {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		what := "the file"
		if path != "" {
			what = path
		}
		d.fail(n, path, "expected a mapping of settings for %s, got %s", what, describe(n))
		return
	}
	seen := map[string]int{}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		d.decodeEntry(v, mv, path, seen)
	}
}

// decodeEntry decodes one "key: value" of the mapping at path into v.
func (d *yamlDecoder) decodeEntry(v reflect.Value, mv *ast.MappingValueNode, path string, seen map[string]int) {
	if mv.Key.IsMergeKey() {
		d.fail(mv.Key, path, "merge keys (<<) are not supported; write the settings out")
		return
	}
	key, ok := mv.Key.(*ast.StringNode)
	if !ok {
		d.fail(mv.Key, path, "a setting name must be plain text, not %s", describe(mv.Key))
		return
	}
	full := joinPath(path, key.Value)
	if first, dup := seen[key.Value]; dup {
		d.fail(mv.Key, full, "set twice (first on line %d)", first)
		return
	}
	seen[key.Value] = line(mv.Key)
	f, ok := fieldByName(v, key.Value)
	if !ok {
		d.fail(mv.Key, full, "unknown setting%s", suggest(full, settingPaths()))
		return
	}
	d.decode(f, mv.Value, full)
}

// decodeList decodes a sequence of text into the []string v.
func (d *yamlDecoder) decodeList(v reflect.Value, n ast.Node, path string) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.fail(n, path, "expected a list, got %s", describe(n))
		return
	}
	items := make([]string, 0, len(seq.Values))
	for i, item := range seq.Values {
		elem := fmt.Sprintf("%s[%d]", path, i)
		d.l.origins[elem] = origin{file: d.file, line: line(item)}
		r, err := d.resolve(item)
		if err == nil {
			var s string
			if s, err = textOf(r); err == nil {
				items = append(items, s)
				continue
			}
		}
		d.fail(item, elem, "%v", err)
	}
	v.Set(reflect.ValueOf(items))
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
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
		return s.Value, nil
	case *ast.LiteralNode:
		if s.Value != nil {
			return s.Value.Value, nil
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
