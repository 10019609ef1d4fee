"""Brand schema: handovers of a departed guide's customers to successors (离职继承)."""
