"""mike-bench: the CLI, the Sacred stages, the MongoDB run store, and the suite executor."""
