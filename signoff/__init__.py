"""The composition root: the `signoff` command wires the core to settings, storage and adapters."""
