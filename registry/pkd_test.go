package registry

import "testing"

func TestNormalizePKD(t *testing.T) {
	tests := map[string]string{
		"4711Z":    "47.11.Z",
		"47.11.Z":  "47.11.Z",
		"47.11Z":   "47.11.Z",
		" 5610a ":  "56.10.A",
		"8559B":    "85.59.B",
		"":         "",
		"47.1":     "47.1",
		"ABCDE":    "ABCDE",
		"47111":    "47111",
		"6310D":    "63.10.D",
		"01.11.Z ": "01.11.Z",
	}
	for in, want := range tests {
		if got := NormalizePKD(in); got != want {
			t.Errorf("NormalizePKD(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPKDSection(t *testing.T) {
	tests := []struct{ code, want string }{
		{"01.11.Z", "A"}, {"03.22.Z", "A"},
		{"05.10.Z", "B"}, {"09.90.Z", "B"},
		{"10.71.Z", "C"}, {"33.20.Z", "C"},
		{"35.11.Z", "D"},
		{"36.00.Z", "E"}, {"39.00.Z", "E"},
		{"41.20.Z", "F"}, {"43.99.Z", "F"},
		{"45.20.Z", "G"}, {"47.11.Z", "G"},
		{"49.41.Z", "H"}, {"53.20.Z", "H"},
		{"55.10.Z", "I"}, {"56.10.A", "I"},
		{"58.11.Z", "J"}, {"63.99.Z", "J"},
		{"64.19.Z", "K"}, {"66.22.Z", "K"},
		{"68.20.Z", "L"},
		{"69.20.Z", "M"}, {"75.00.Z", "M"},
		{"77.11.Z", "N"}, {"82.99.Z", "N"},
		{"84.11.Z", "O"},
		{"85.59.B", "P"},
		{"86.21.Z", "Q"}, {"88.91.Z", "Q"},
		{"90.01.Z", "R"}, {"93.13.Z", "R"},
		{"94.99.Z", "S"}, {"96.02.Z", "S"},
		{"97.00.Z", "T"}, {"98.10.Z", "T"},
		{"99.00.Z", "U"},
		{"4711Z", "G"},                                    // undotted, as the registry sends it
		{"04.00.Z", ""}, {"34.00.Z", ""}, {"00.00.Z", ""}, // no such division
		{"", ""}, {"X1", ""},
	}
	for _, tt := range tests {
		if got := PKDSection(tt.code); got != tt.want {
			t.Errorf("PKDSection(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}
