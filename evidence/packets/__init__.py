"""Evidence packets from Leaf Health's systems of record (../shared/evidence-packets-v1.md): their format
and typed records (`model.py`), their validation (`validation/`: accepted or refused, every issue
located), and the authority rules that decide what an output may claim from the evidence it is given
(`authority/`). Plain modules, no Django."""
