"""Record linkage: the schema and cleaning by type, blocking, comparisons, the model, scoring."""
