package mirrortest

// CostConfig is a realistic config of every kind of fact the mirror keeps:
// contacts by their won deals, recency and frequency (RFM), companies by
// their deals and by the catalog sections they bought from (product
// rows), deals by a field and by their client's segment: what the cost
// curve (cmd/costcurve) saves.
const CostConfig = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 50000}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "loyal", "name": "Loyal", "when": {"all": [{"fact": "rfm_f", "op": ">=", "value": 4}, {"fact": "rfm_r", "op": ">=", "value": 3}]},
    "set": {"type": "CLIENT", "label": true}},
   {"key": "active", "name": "Active", "when": {"all": [{"fact": "open_deals", "op": ">=", "value": 1}]},
    "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"type": "CLIENT", "label": true}}},
 {"entity": "company", "segments": [
   {"key": "key", "name": "Key account", "when": {"all": [{"fact": "won_count", "window_days": 365, "op": ">=", "value": 3}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "multi", "name": "Multi-product", "when": {"all": [{"fact": "product_groups", "window_days": 730, "op": ">=", "value": 3}]},
    "set": {"label": true}}],
  "otherwise": {"key": "small", "name": "Small", "set": {"type": "CUSTOMER", "label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip", "key"]}]},
    "set": {"label": true}},
   {"key": "web", "name": "Web", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]},
    "set": {"label": true}}],
  "otherwise": {"key": "other", "name": "Other", "set": {"label": true}}}
]}`

// CostDraft is what the settings page sends while an admin edits the
// saved config: its thresholds moved, so a dry run has records to move.
const CostDraft = `{"schemes": [
 {"entity": "contact", "segments": [
   {"key": "vip", "name": "VIP", "when": {"all": [{"fact": "won_amount", "window_days": 365, "op": ">=", "value": 30000}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "loyal", "name": "Loyal", "when": {"all": [{"fact": "rfm_f", "op": ">=", "value": 3}, {"fact": "rfm_r", "op": ">=", "value": 3}]},
    "set": {"type": "CLIENT", "label": true}},
   {"key": "active", "name": "Active", "when": {"all": [{"fact": "open_deals", "op": ">=", "value": 1}]},
    "set": {"label": true}}],
  "otherwise": {"key": "regular", "name": "Regular", "set": {"type": "CLIENT", "label": true}}},
 {"entity": "company", "segments": [
   {"key": "key", "name": "Key account", "when": {"all": [{"fact": "won_count", "window_days": 365, "op": ">=", "value": 2}]},
    "set": {"type": "PARTNER", "label": true}},
   {"key": "multi", "name": "Multi-product", "when": {"all": [{"fact": "product_groups", "window_days": 730, "op": ">=", "value": 4}]},
    "set": {"label": true}}],
  "otherwise": {"key": "small", "name": "Small", "set": {"type": "CUSTOMER", "label": true}}},
 {"entity": "deal", "segments": [
   {"key": "premium", "name": "Premium", "when": {"all": [{"fact": "client_segment", "op": "in", "value": ["vip", "key", "loyal"]}]},
    "set": {"label": true}},
   {"key": "web", "name": "Web", "when": {"all": [{"fact": "field:SOURCE_ID", "op": "=", "value": "WEB"}]},
    "set": {"label": true}}],
  "otherwise": {"key": "other", "name": "Other", "set": {"label": true}}}
]}`
