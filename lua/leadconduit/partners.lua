-- partners (placeholder)
return {}
