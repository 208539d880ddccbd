package registry

import "strings"

// NormalizePKD writes a PKD code the way people read it, "47.11.Z": the
// registry sends "4711Z". Anything that is not a subclass code (two digits,
// two digits, one letter) comes back trimmed and upper-cased, unchanged.
func NormalizePKD(code string) string {
	c := strings.ToUpper(strings.TrimSpace(code))
	compact := strings.NewReplacer(".", "", " ", "").Replace(c)
	if len(compact) != 5 || !digits(compact[:4]) || compact[4] < 'A' || compact[4] > 'Z' {
		return c
	}
	return compact[:2] + "." + compact[2:4] + "." + compact[4:]
}

// pkdSections maps each section of PKD 2007 (NACE Rev. 2) to the last
// division it holds; sections are contiguous ranges of divisions.
var pkdSections = []struct {
	section byte
	last    int
}{
	{'A', 3}, {'B', 9}, {'C', 33}, {'D', 35}, {'E', 39}, {'F', 43}, {'G', 47},
	{'H', 53}, {'I', 56}, {'J', 63}, {'K', 66}, {'L', 68}, {'M', 75}, {'N', 82},
	{'O', 84}, {'P', 85}, {'Q', 88}, {'R', 93}, {'S', 96}, {'T', 98}, {'U', 99},
}

// pkdUnused are the divisions PKD 2007 leaves empty (04, 34, 40, 44, 48,
// 54, 57, 67, 76, 83, 89): no code starts with them.
var pkdUnused = map[int]bool{4: true, 34: true, 40: true, 44: true, 48: true, 54: true, 57: true, 67: true, 76: true, 83: true, 89: true}

// PKDSection is the section letter (A–U) of a PKD 2007 code, read from its
// division (the first two digits): "47.11.Z" is in G. It is "" for a code
// without a known division.
//
// The table is PKD 2007's. PKD 2025 (NACE Rev. 2.1) moved some divisions
// between sections; a PKD 2025 code gets the section its division had in
// PKD 2007.
func PKDSection(code string) string {
	c := strings.TrimSpace(code)
	if len(c) < 2 || !digits(c[:2]) {
		return ""
	}
	div := int(c[0]-'0')*10 + int(c[1]-'0')
	if div < 1 || pkdUnused[div] {
		return ""
	}
	for _, s := range pkdSections {
		if div <= s.last {
			return string(s.section)
		}
	}
	return ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
