package registry

import "strings"

// nipWeights are the NIP check-digit weights of the first nine digits.
var nipWeights = [9]int{6, 5, 7, 2, 3, 4, 5, 6, 7}

// ValidNIP normalises a Polish tax ID (NIP) and checks its check digit. It
// accepts the forms people type: "PL" in front (any case), dashes and
// spaces ("PL 526-104-08-28"). ok is false unless ten digits remain and
// the weighted sum of the first nine, mod 11, equals the tenth (a sum of
// 10 never makes a valid NIP).
func ValidNIP(s string) (normalised string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && strings.EqualFold(s[:2], "PL") {
		s = s[2:]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	n := b.String()
	if len(n) != 10 {
		return "", false
	}
	sum := 0
	for i, w := range nipWeights {
		sum += int(n[i]-'0') * w
	}
	check := sum % 11
	if check == 10 || check != int(n[9]-'0') {
		return "", false
	}
	return n, true
}

// NIPCheckDigit is the check digit of a NIP's first nine digits, and false
// when no tenth digit makes them valid (the sum mod 11 is 10). Simulators
// use it to make valid NIPs.
func NIPCheckDigit(first9 string) (byte, bool) {
	if len(first9) != 9 {
		return 0, false
	}
	sum := 0
	for i, w := range nipWeights {
		d := first9[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		sum += int(d-'0') * w
	}
	if sum%11 == 10 {
		return 0, false
	}
	return byte('0' + sum%11), true
}

// IsNIPCandidate reports whether a tax ID as written in a requisite is
// meant as a Polish NIP, valid or not: digits with dashes and spaces,
// perhaps after "PL". Another country's VAT number ("DE123456789",
// "ATU12345678") is not one: its company is not in the Polish registry,
// and calling it an invalid NIP would be wrong.
func IsNIPCandidate(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && strings.EqualFold(s[:2], "PL") {
		s = s[2:]
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '-' || r == ' ' || r == '\t' || r == '.':
		default:
			return false
		}
	}
	return digits > 0
}
