"""Everything an attacker does: poisoning and inference-time adversaries."""
