"""The parts of the sample export generator, split by sub-domain; its public names are those of
evidence.samples.export, which writes the export from these parts (import from there)."""
