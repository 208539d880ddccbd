package b24sim

// STUB — to be replaced: app.info, profile, user.admin, scope, server.time,
// app.option.*, event.*, placement.*, batch.
func (p *Portal) registerSystemMethods() {
	p.methods["server.time"] = func(p *Portal, c *Call) (any, error) { return p.now().Format("2006-01-02T15:04:05-07:00"), nil }
}
