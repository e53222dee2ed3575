"""alliance-sim: an agent-based model of NATO allies' defence spending and capabilities."""
