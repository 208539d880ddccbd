package b24sim

// STUB — to be replaced by the leaky bucket and operating-time budget.
type limitState struct{}

func (p *Portal) initLimits()                              {}
func (p *Portal) admitRequest() *Error                     { return nil }
func (p *Portal) admitMethod(method string) *Error         { return nil }
func (p *Portal) chargeMethod(method string)               {}
func (p *Portal) operating(method string) (float64, int64) { return 0, p.now().Add(10 * 60e9).Unix() }
