package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxJSONDepth bounds how deeply a config's JSON nests: the config, its
// schemes list, a scheme, its segments list and a segment, then per
// condition level an object and a list (its group's, or at the deepest
// level its value list). No valid config nests deeper, so deeper input is
// refused before it is decoded.
const MaxJSONDepth = 5 + 2*maxDepth

// CheckJSON is the strict step every config from outside goes through
// before it is decoded, because encoding/json quietly accepts what other
// readers of the same bytes may see differently. It refuses data that is
// not exactly one JSON value nesting at most depth levels, whose text is
// valid UTF-8 with no control characters (U+0000–U+001F, U+007F–U+009F; no
// config field is free text where a line break could belong), and whose
// objects have no duplicate keys. It reads token by token and stops at the
// first problem, so a huge or deeply nested input costs only what comes
// before it. The error is a Problem whose Path says where.
//
// own names top-level members whose values get a strict check of their
// own later (a request's config, which ParseConfig checks with paths
// relative to the config, as the settings page marks them); here their
// values are only checked to be JSON.
func CheckJSON(data []byte, depth int, own ...string) error {
	if p := newStrictScanner(data, depth, own).check(); p != nil {
		return *p
	}
	return nil
}

// strictScanner walks a JSON input token by token for CheckJSON.
type strictScanner struct {
	data  []byte
	dec   *json.Decoder
	limit int
	own   []string
	stack []frame
}

// frame is an object or list being read.
type frame struct {
	path    string
	object  bool
	wantKey bool            // an object's next token is a key (or its end)
	key     string          // an object's current key
	keys    map[string]bool // an object's keys so far
	n       int             // a list's items so far
}

func newStrictScanner(data []byte, limit int, own []string) *strictScanner {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // a number too large for float64 is still JSON
	return &strictScanner{data: data, dec: dec, limit: limit, own: own}
}

func (s *strictScanner) check() *Problem {
	for {
		start := s.dec.InputOffset()
		tok, err := s.dec.Token()
		if err != nil {
			return s.syntax(err)
		}
		if p := s.token(tok, start); p != nil {
			return p
		}
		if len(s.stack) == 0 {
			return s.rest()
		}
	}
}

// token checks one token that started at or after start.
func (s *strictScanner) token(tok json.Token, start int64) *Problem {
	if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
		s.stack = s.stack[:len(s.stack)-1]
		return nil
	}
	if top := s.top(); top != nil && top.wantKey {
		return s.key(top, tok.(string), start)
	}
	path := s.next()
	switch v := tok.(type) {
	case json.Delim:
		if len(s.stack) == s.limit {
			return &Problem{Path: path, Code: CodeJSONDepth, Args: []string{strconv.Itoa(s.limit)}}
		}
		s.stack = append(s.stack, frame{path: path, object: v == '{', wantKey: v == '{'})
	case string:
		return s.text(path, v, start)
	}
	return nil
}

func (s *strictScanner) key(top *frame, k string, start int64) *Problem {
	if p := s.text(top.path, k, start); p != nil {
		return p
	}
	if top.keys[k] {
		return &Problem{Path: at(top.path, k), Code: CodeJSONDupKey, Args: []string{k}}
	}
	if top.keys == nil {
		top.keys = map[string]bool{}
	}
	top.keys[k] = true
	top.key, top.wantKey = k, false
	if len(s.stack) == 1 && slices.Contains(s.own, k) {
		if err := s.dec.Decode(new(json.RawMessage)); err != nil {
			return s.syntax(err)
		}
		s.next()
	}
	return nil
}

// text checks a string token: its raw bytes, from start (which may hold a
// separator before it) to where the decoder is now, and str, what they
// decode to.
func (s *strictScanner) text(path, str string, start int64) *Problem {
	raw := s.data[start:s.dec.InputOffset()]
	if !utf8.Valid(raw) || loneSurrogate(raw) {
		return &Problem{Path: path, Code: CodeJSONUTF8}
	}
	for _, r := range str {
		if unicode.IsControl(r) {
			return controlProblem(path, r)
		}
	}
	return nil
}

func controlProblem(path string, r rune) *Problem {
	return &Problem{Path: path, Code: CodeJSONControl, Args: []string{fmt.Sprintf("U+%04X", r)}}
}

// syntax turns the decoder's error into a Problem. A raw control byte in a
// string is a syntax error to the decoder but a control character to the
// admin.
func (s *strictScanner) syntax(err error) *Problem {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offsets of errors inside a token count from the token, not the
		// input. A plain scan from the start stops at the same byte, as
		// everything before it passed, and counts from the input.
		if serr := json.Unmarshal(s.data, new(json.RawMessage)); serr != nil {
			err = serr
		}
	}
	offset := errorOffset(s.data, err)
	if offset < int64(len(s.data)) && s.data[offset] < 0x20 {
		return controlProblem(s.here(), rune(s.data[offset]))
	}
	p := syntaxProblem(s.data, err)
	return &p
}

// rest refuses anything after the value: a second value or garbage.
func (s *strictScanner) rest() *Problem {
	end := s.dec.InputOffset()
	if _, err := s.dec.Token(); err == io.EOF {
		return nil
	}
	offset := end + int64(len(s.data[end:])-len(bytes.TrimLeft(s.data[end:], " \t\r\n")))
	line, col := lineCol(s.data, offset)
	return &Problem{Code: CodeJSONTrailing, Args: []string{line, col}}
}

func (s *strictScanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// here is the path of the value the next token starts, or of the object
// whose key it is.
func (s *strictScanner) here() string {
	top := s.top()
	switch {
	case top == nil:
		return ""
	case top.wantKey:
		return top.path
	case top.object:
		return at(top.path, top.key)
	}
	return index(top.path, top.n)
}

// next is here for a value the next token starts, moving past it.
func (s *strictScanner) next() string {
	path := s.here()
	if top := s.top(); top != nil && top.object {
		top.wantKey = true
	} else if top != nil {
		top.n++
	}
	return path
}

// loneSurrogate reports whether a string literal escapes half of a UTF-16
// surrogate pair, which decoding silently turns into U+FFFD. The literal is
// valid JSON, so every backslash starts a complete escape.
func loneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r := escapedRune(raw[i:])
		if r < 0 {
			i++ // a one-letter escape such as \\ or \"
			continue
		}
		i += 5
		if !utf16.IsSurrogate(r) {
			continue
		}
		if utf16.DecodeRune(r, escapedRune(raw[i+1:])) == unicode.ReplacementChar {
			return true
		}
		i += 6
	}
	return false
}

// escapedRune is the rune of a \uXXXX escape at the start of b, or -1.
func escapedRune(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}
