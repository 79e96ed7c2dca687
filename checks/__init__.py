"""Policy rules for the rendered platform stack, each traced to a spec requirement."""
