-- time (placeholder)
return {}
