// Package segmentor holds the files embedded into the binary: the app
// manifest and the settings page. They live at the module root because
// //go:embed cannot reach a parent directory from a subpackage.
package segmentor

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
)

//go:embed app.json
var manifestJSON []byte

//go:embed static
var staticFiles embed.FS

// Static returns the settings page and card tab files, rooted at static/.
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time; absence is a build bug
	}
	return sub
}

// Manifest is app.json: what the app asks of a portal and where it listens.
type Manifest struct {
	Name        string            `json:"name"`
	Code        string            `json:"code"`
	Version     int               `json:"version"`
	Description map[string]string `json:"description"`
	Scopes      []string          `json:"scopes"`
	Handlers    struct {
		Install   string `json:"install"`
		Events    string `json:"events"`
		App       string `json:"app"`
		Placement string `json:"placement"`
		Robot     string `json:"robot"` // the robot "Segmentor: classify" (bizproc.robot.add)
	} `json:"handlers"`
	Events       []string      `json:"events"`
	Placements   []Placement   `json:"placements"`
	SegmentField SegmentField  `json:"segment_field"`
	Env          []EnvVariable `json:"env"`
}

// Placement is a CRM card tab the app binds.
type Placement struct {
	Code    string            `json:"code"`
	Handler string            `json:"handler"`
	Title   map[string]string `json:"title"`
}

// SegmentField describes the Segment list field the app creates on contacts,
// companies and deals. FieldName is given without the UF_CRM_ prefix that
// Bitrix24 prepends, and is kept short enough for old portals (13 chars).
type SegmentField struct {
	FieldName string            `json:"field_name"`
	XMLID     string            `json:"xml_id"`
	Label     map[string]string `json:"label"`
}

// EnvVariable documents one environment variable.
type EnvVariable struct {
	Name    string `json:"name"`
	Default string `json:"default"`
	Meaning string `json:"meaning"`
}

// LoadManifest parses the embedded app.json.
func LoadManifest() (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return nil, fmt.Errorf("app.json: %w", err)
	}
	if m.Handlers.Install == "" || m.Handlers.Events == "" || m.Handlers.App == "" || m.Handlers.Placement == "" || m.Handlers.Robot == "" {
		return nil, fmt.Errorf("app.json: every handler path must be set")
	}
	return &m, nil
}
