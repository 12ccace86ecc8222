package configs

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Schema errors: the document's shape does not fit the configuration's.
var (
	ErrUnknownKey   = errors.New("unknown key")
	ErrDuplicateKey = errors.New("key given twice")
	ErrWrongType    = errors.New("wrong type")
)

// checkSchema walks a parsed document against Config's yaml keys and returns a
// *FieldError for every unknown key, repeated key and value of the wrong kind,
// each with its line. It removes what it reports from the document (a
// repeated key's later entries, an unknown key, a wrong value; a wrong list
// item becomes null, so that the items after it keep their index), so that
// decoding what is left succeeds and validation can report the rest of the
// file's problems in the same run.
func checkSchema(body ast.Node) []error {
	var s schema
	s.node(&body, reflect.TypeFor[Config](), "")
	return s.errs
}

type schema struct{ errs []error }

var unmarshalerTypes = []reflect.Type{
	reflect.TypeFor[yaml.InterfaceUnmarshaler](),
	reflect.TypeFor[yaml.BytesUnmarshaler](),
	reflect.TypeFor[yaml.NodeUnmarshaler](),
}

// node checks *n against t at path; it reports whether *n is acceptable (false:
// the caller removes it).
func (s *schema) node(n *ast.Node, t reflect.Type, path string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	v := *n
	for {
		switch x := v.(type) {
		case *ast.AnchorNode:
			v, n = x.Value, &x.Value
			continue
		case *ast.TagNode:
			v, n = x.Value, &x.Value
			continue
		}
		break
	}
	switch v.(type) {
	case nil, *ast.NullNode, *ast.AliasNode:
		return true // empty, or a reference whose target is checked where it is defined
	}
	for _, u := range unmarshalerTypes {
		if reflect.PointerTo(t).Implements(u) {
			return true // the type reads its own YAML and says what is wrong
		}
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(*ast.MappingNode)
		if !ok {
			return s.wrong(v, path, "a mapping of keys (name: value)")
		}
		s.mapping(m, path, func(key string) (reflect.Type, bool) {
			f, ok := fieldByKey(t, key)
			return f.Type, ok
		}, func() []string { return keysOf(t) })
	case reflect.Map:
		m, ok := v.(*ast.MappingNode)
		if !ok {
			return s.wrong(v, path, "a mapping of keys (name: value)")
		}
		s.mapping(m, path, func(string) (reflect.Type, bool) { return t.Elem(), true }, nil)
	case reflect.Slice, reflect.Array:
		seq, ok := v.(*ast.SequenceNode)
		if !ok {
			return s.wrong(v, path, "a list")
		}
		if t.Kind() == reflect.Array && len(seq.Values) != t.Len() {
			return s.fail(v, path, fmt.Errorf("%w: want a list of %d, got %d", ErrWrongType, t.Len(), len(seq.Values)))
		}
		for i := range seq.Values {
			if !s.node(&seq.Values[i], t.Elem(), fmt.Sprintf("%s[%d]", path, i)) {
				seq.Values[i] = ast.Null(token.New("null", "null", seq.Values[i].GetToken().Position))
			}
		}
	case reflect.String:
		if _, ok := v.(ast.ScalarNode); !ok {
			return s.wrong(v, path, "a string")
		}
	case reflect.Bool:
		if _, ok := v.(*ast.BoolNode); !ok {
			return s.wrong(v, path, "true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := v.(*ast.IntegerNode); !ok {
			return s.wrong(v, path, "a whole number")
		}
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		default:
			return s.wrong(v, path, "a number")
		}
	}
	return true
}

// mapping checks a mapping's keys (with fieldType, which says a key's type and
// whether it is known; validKeys lists the keys there) and their values,
// dropping the entries it reports.
func (s *schema) mapping(m *ast.MappingNode, path string, fieldType func(string) (reflect.Type, bool), validKeys func() []string) {
	seen := map[string]int{}
	m.Values = slices.DeleteFunc(m.Values, func(e *ast.MappingValueNode) bool {
		if _, merge := e.Key.(*ast.MergeKeyNode); merge {
			return false // "<<: *anchor": the anchor is checked where it is defined
		}
		key := e.Key.GetToken().Value
		p := join(path, key)
		if line, dup := seen[key]; dup {
			s.fail(e.Key, p, fmt.Errorf("%w (first on line %d)", ErrDuplicateKey, line))
			return true
		}
		seen[key] = e.Key.GetToken().Position.Line
		t, ok := fieldType(key)
		if !ok {
			s.fail(e.Key, p, unknownKey(key, validKeys()))
			return true
		}
		return !s.node(&e.Value, t, p)
	})
}

// unknownKey says that key is not one of valid, and which of them it is
// nearest to when one is near.
func unknownKey(key string, valid []string) error {
	msg := ""
	best, bestD := "", len(key)/3+2
	for _, k := range valid {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		msg = fmt.Sprintf("; did you mean %q?", best)
	}
	return fmt.Errorf("%w%s (the keys here: %s)", ErrUnknownKey, msg, strings.Join(valid, ", "))
}

func (s *schema) wrong(v ast.Node, path, want string) bool {
	return s.fail(v, path, fmt.Errorf("%w: want %s, got %s", ErrWrongType, want, describe(v)))
}

func (s *schema) fail(v ast.Node, path string, err error) bool {
	s.errs = append(s.errs, &FieldError{Field: path, Line: v.GetToken().Position.Line, Err: err})
	return false
}

// describe names what a value is, in the user's words.
func describe(v ast.Node) string {
	switch v.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", v.GetToken().Value)
	}
	return v.GetToken().Value
}

// fieldByKey finds the field of struct t whose yaml key is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for f := range structFields(t) {
		if yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// keysOf lists struct t's yaml keys in declaration order.
func keysOf(t reflect.Type) []string {
	var keys []string
	for f := range structFields(t) {
		keys = append(keys, yamlKey(f))
	}
	return keys
}

func structFields(t reflect.Type) func(func(reflect.StructField) bool) {
	return func(yield func(reflect.StructField) bool) {
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && yamlKey(f) != "-" && !yield(f) {
				return
			}
		}
	}
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
