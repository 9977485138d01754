package jobspec

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// walker decodes a YAML node tree into a Spec field by field, so that each
// problem is reported with its path and line and decoding goes on after it.
// The bad field is left at its zero value and marked bad, so validation
// does not report it a second time.
type walker struct {
	errs    []*FieldError // at most maxErrors; dropped counts the rest
	dropped int
	lines   map[string]int  // path → line of its key or list element
	set     map[string]bool // paths given a non-null value that decoded
	bad     []string        // paths with a decoding error
}

func newWalker() *walker {
	return &walker{lines: map[string]int{}, set: map[string]bool{}}
}

// maxErrors bounds the errors kept, so that a megabyte of bad fields does
// not become many megabytes of error.
const maxErrors = 50

func (w *walker) fail(path string, n *yaml.Node, format string, args ...any) {
	w.report(path, n, format, args...)
	w.bad = append(w.bad, path)
}

func (w *walker) report(path string, n *yaml.Node, format string, args ...any) {
	if len(w.errs) >= maxErrors {
		w.dropped++
		return
	}
	w.errs = append(w.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Line: n.Line})
}

// isBad reports whether path or one of its ancestors failed to decode.
func (w *walker) isBad(path string) bool {
	for _, b := range w.bad {
		if under(path, b) {
			return true
		}
	}
	return false
}

// lineOf returns the line of path, or of its nearest ancestor that has one.
func (w *walker) lineOf(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := w.lines[p]; ok {
			return l
		}
	}
	return 0
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// value decodes n into v (addressable) at path.
func (w *walker) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if n == nil || isNull(n) {
		return // null means "not given": the default applies
	}
	t := v.Type()
	switch {
	case reflect.PointerTo(t).Implements(unmarshalerType):
		w.leaf(n, v, path)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		elem := reflect.New(t.Elem())
		if w.structure(n, elem.Elem(), path) {
			v.Set(elem)
		}
	case t.Kind() == reflect.Struct:
		w.structure(n, v, path)
	case t.Kind() == reflect.Slice:
		w.list(n, v, path)
	default:
		w.leaf(n, v, path)
	}
}

// structure decodes a mapping into the struct v, refusing keys that are
// not fields. It reports whether n was a mapping.
func (w *walker) structure(n *yaml.Node, v reflect.Value, path string) bool {
	fields := yamlFields(v.Type())
	allowed := strings.Join(sortedKeys(fields), ", ")
	if n.Kind != yaml.MappingNode {
		w.fail(path, n, "must be a mapping with the fields %s, got %s", allowed, describeNode(n))
		return false
	}
	w.set[path] = true
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			w.fail(path, n.Content[i], "field names must be plain words, got %s", nodeKindName(k))
			continue
		}
		child := join(path, pathKey(k.Value))
		if k.ShortTag() == "!!merge" {
			w.fail(child, k, "YAML merge keys are not supported; write the fields out")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			// Not marked bad: the first value still gets validated.
			w.report(child, k, "is given twice (first on line %d); keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			hint := ""
			if len(w.errs) < maxErrors { // the hint costs; skip it for errors not shown
				hint = suggest(k.Value, fields)
			}
			w.fail(child, k, "unknown field;%s %s takes %s", hint, describePath(path), allowed)
			continue
		}
		w.lines[child] = k.Line
		w.value(val, v.Field(idx), child)
	}
	return true
}

// list decodes a sequence into the slice v, element by element.
func (w *walker) list(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		w.fail(path, n, "must be %s, got %s", typeWord(v.Type()), describeNode(n))
		return
	}
	w.set[path] = true
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		child := path + "[" + strconv.Itoa(i) + "]"
		w.lines[child] = e.Line
		e = resolveAlias(e)
		if e == nil || isNull(e) {
			w.fail(child, n.Content[i], "must be %s, got null", typeWord(v.Type().Elem()))
			continue
		}
		if v.Type().Elem().Kind() == reflect.Struct { // a list of mappings: model.conv
			w.structure(e, out.Index(i), child)
			continue
		}
		w.leaf(e, out.Index(i), child)
	}
	v.Set(out)
}

// leaf decodes a scalar with yaml.v3 itself, with a message of our own.
// Integers must be written as integers: yaml.v3 would truncate 10.5 to 10.
func (w *walker) leaf(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	custom := reflect.PointerTo(t).Implements(unmarshalerType)
	if !custom && (n.Kind != yaml.ScalarNode || isInt(t) && n.ShortTag() != "!!int") {
		w.fail(path, n, "must be %s, got %s", typeWord(t), describeNode(n))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		if custom {
			w.fail(path, n, "%s", err.Error())
		} else {
			w.fail(path, n, "must be %s, got %s", typeWord(t), describeNode(n))
		}
		return
	}
	w.set[path] = true
}

// yamlFields maps each yaml field name of struct type t to its index.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

// sortedKeys lists the field names in declaration order.
func sortedKeys(fields map[string]int) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fields[keys[i]] < fields[keys[j]] })
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pathKey spells a key for a path: as is when it is a plain word, quoted
// otherwise, so that a key with a newline cannot break an error message.
func pathKey(k string) string {
	if len(k) > 0 && len(k) <= 64 && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return k
	}
	return quote(k)
}

func describePath(path string) string {
	if path == "" {
		return "a job spec"
	}
	return path
}

// resolveAlias follows *alias references to the anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for range 8 {
		if n == nil || n.Kind != yaml.AliasNode {
			return n
		}
		n = n.Alias
	}
	return nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// typeWord says in words what a field of type t holds.
func typeWord(t reflect.Type) string {
	switch {
	case t.Kind() == reflect.Uint64:
		return "an integer between 0 and 18446744073709551615"
	case isInt(t):
		return "an integer"
	case t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Struct:
		return "a mapping"
	case t.Kind() == reflect.Slice:
		w := typeWord(t.Elem()) // "an integer" → "integers"
		_, w, _ = strings.Cut(w, " ")
		return "a list of " + strings.TrimSuffix(w, "s") + "s"
	}
	return "a " + t.Kind().String()
}

// describeNode shows what the YAML held, for a "got …" message.
func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return scalarForMsg(n)
	}
	return nodeKindName(n)
}

// scalarForMsg writes numbers bare and anything else quoted.
func scalarForMsg(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool":
		if len(n.Value) <= 40 {
			return n.Value
		}
	}
	return quote(n.Value)
}

func nodeKindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "an alias"
}

// suggest returns " did you mean X?" for the field closest to a misspelt
// key, when one is within two edits, or "".
func suggest(key string, fields map[string]int) string {
	if len(key) > 64 {
		return ""
	}
	best, bestD := "", 3
	for _, f := range sortedKeys(fields) {
		if d := editDistance(key, f); d < bestD {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return " did you mean " + best + "?"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
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
