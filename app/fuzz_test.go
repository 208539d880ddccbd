package app

import (
	"bytes"
	"testing"
)

// FuzzSealedToken opens arbitrary bytes as a sealed token (what Redis
// returns, or what someone wrote there). Nothing may panic; a value that
// opens is bound to its portal and to every byte of it; a sealed value
// round-trips.
func FuzzSealedToken(f *testing.F) {
	s, err := NewSealer(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.Seal([]byte(`{"access_token":"at","refresh_token":"rt"}`), "member-1")
	f.Add(good, "member-1", []byte("x"))
	f.Add(good[:5], "member-1", []byte{})
	f.Add([]byte{}, "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, sealed []byte, member string, plain []byte) {
		if _, err := s.Open(sealed, member); err == nil {
			// Authentic: it must be bound to this portal and to every byte.
			check(t, s, sealed, member)
		} else if err.Error() == "" {
			t.Fatal("error without message")
		}
		box, err := s.Seal(plain, member)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Open(box, member)
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("round trip of %q: %q, %v", plain, out, err)
		}
		check(t, s, box, member)
	})
}

// check fails unless the sealed value refuses to open for another portal
// or with any one byte changed.
func check(t *testing.T, s *Sealer, sealed []byte, member string) {
	t.Helper()
	if _, err := s.Open(sealed, member+"x"); err == nil {
		t.Fatal("a value sealed for one portal opened for another")
	}
	for i := range sealed {
		c := bytes.Clone(sealed)
		c[i] ^= 0x80
		if _, err := s.Open(c, member); err == nil {
			t.Fatalf("a value with byte %d changed opened", i)
		}
	}
}
