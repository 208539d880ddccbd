package b24sim

// STUB — to be replaced by event binding and delivery.
type eventState struct{}

// Event is a CRM or app event to deliver to bound handlers.
type Event struct {
	Name       string            // e.g. ONCRMDEALUPDATE
	Fields     map[string]string // data[FIELDS][...]: ID, and CATEGORY_ID/STAGE_ID for a pipeline move
	UserID     int               // the user who made the change
	Automation bool              // made by a robot/workflow: no access_token in auth[]
}

func (p *Portal) initEvents()   {}
func (p *Portal) stopEvents()   {}
func (p *Portal) emit(ev Event) {}
