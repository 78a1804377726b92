-- client (placeholder)
return {}
