"""Django admin's labels read as English: every registered model's plural is a word a person would write."""
from __future__ import annotations

import re

from django.contrib import admin


def test_every_admin_plural_reads_correctly():
    plurals = {model._meta.label: str(model._meta.verbose_name_plural) for model in admin.site._registry}
    wrong = {
        label: plural for label, plural in plurals.items()
        if plural.endswith(("ys", "entrys", "policys", "s s", "ss"))
        or re.search(r"[a-z][A-Z]", plural)  # a raw class name (DirectoryEntrys, PdpPolicy)
    }
    assert wrong == {}
    assert plurals["evidence.DirectoryEntry"] == "directory entries"
    assert plurals["evidence.PdpPolicy"] == "PDP policies"
    assert plurals["evidence.DomoDataset"] == "Domo datasets"
