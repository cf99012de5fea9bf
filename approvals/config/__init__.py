"""Configuration: settings from the environment and TOML, and the org-file loader and checker."""
