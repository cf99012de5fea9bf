"""signoff's core: org chart, posts and revisions, the approval chain, gates and the audit log."""
