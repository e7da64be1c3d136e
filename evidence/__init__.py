"""Evidence: Leaf IQ exports as received (bronze), normalized (silver), and evidence packets."""
