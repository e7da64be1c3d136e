"""Evidence packets from Leaf Health's systems of record (../shared/evidence-packets-v1.md).

Plain modules, no Django: the format's typed values (`model.py`), their validation (`validation/`:
accepted or refused, every issue located), writing packets (`writing.py`, for the samples and tests),
and the authority rules that decide what an output may claim from the evidence it is given
(`authority/`). Django: the packets, revisions, issues and typed record rows (`models.py`) and the
receiving service (`services.py`: write-once bronze, then one recording transaction)."""
