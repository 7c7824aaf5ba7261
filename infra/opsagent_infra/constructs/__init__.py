"""Constructs that read like the thing they make; each wires its own permissions."""
