"""Business domains, each a package with a portal blueprint and an API blueprint."""
