-- features (placeholder)
return {}
