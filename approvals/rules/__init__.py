"""The rules, pure: states and transitions, the chain verbs, who may act, gates, the scanner,
the org chart model, revisions, deadlines and errors. Standard library and pure calculation
libraries only; nothing here touches a database, a queue or the network."""
