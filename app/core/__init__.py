"""Cross-cutting, domain-free code: errors, permissions, jobs, mail, events, security."""
