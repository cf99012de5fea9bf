"""The use cases over one unit of work; the façade every face (CLI, console, bot, worker) calls."""
