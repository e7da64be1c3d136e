"""The intake: a Leaf IQ export received as evidence.

- leafiq/: the format's readers (plain Python, no Django: the golden and formula packages use them too);
- validation/: complete, partial or invalid, with every issue located; archive safety;
- silver.py: typed Parquet from a dataset's CSV;
- storage.py: bronze and silver writes to the lake;
- services.py: the intake service (create, execute, sweep), called by the pages, the API, the
  management command and the worker;
- uploads.py: browser and API uploads staged to disk;
- objects.py: the export's Domo objects recorded as rows; pdp.py: PDP policies read against the directory;
- reproduction.py: golden reproduction of the export's cards, recorded at intake.

Nothing is imported here, so that `evidence.intake.leafiq` stays importable without Django.
"""
