package b24sim

// STUB — to be replaced by the CRM store and methods.
type crmState struct{}

func (p *Portal) initCRM()            {}
func (p *Portal) registerCRMMethods() {}
