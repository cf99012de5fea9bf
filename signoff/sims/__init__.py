"""Local simulators of the external services signoff talks to, run as real HTTP servers."""
