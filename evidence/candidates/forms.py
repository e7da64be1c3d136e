"""The register form: the kind, then one select per record column of the kind (the dataset's columns, or
not mapped), pre-filled with the proposed mapping; required columns marked."""
from __future__ import annotations

from django import forms

from console.comments import COMMENT_MAX_CHARS
from evidence.candidates import mapping as mapper
from evidence.candidates.services import dataset_columns, mapping_proposal
from evidence.choices import PacketKind
from evidence.models import DomoDataset
from evidence.packets.model import COLUMNS

PREFIX = "map_"
NOT_MAPPED = ("", "— not mapped —")


class RegisterForm(forms.Form):
    dataset = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=PacketKind.choices, label="Evidence kind")
    note = forms.CharField(required=False, label="Note", max_length=COMMENT_MAX_CHARS,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, dataset: DomoDataset, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataset, self.kind = dataset, kind
        self.fields["kind"].initial = kind
        self.fields["dataset"].initial = dataset.pk
        proposal = {line.column: line for line in mapping_proposal(dataset, kind)}
        choices = [NOT_MAPPED, *((name, name) for name in dataset_columns(dataset))]
        for column in COLUMNS[kind]:
            required = column in mapper.REQUIRED[kind]
            field = forms.ChoiceField(choices=choices, required=False, initial=proposal[column].domo_column,
                                      label=f"{column} (required)" if required else column)
            field.record_column, field.is_required, field.matched_by = column, required, proposal[column].matched_by
            self.fields[PREFIX + column] = field

    def mapping_fields(self):
        return [self[PREFIX + column] for column in COLUMNS[self.kind]]

    def mapping(self) -> dict[str, str]:
        return {column: self.cleaned_data.get(PREFIX + column) or "" for column in COLUMNS[self.kind]}

    def add_issue(self, issue) -> None:
        """A refusal's issue on the record column's select when it names one, else on the form."""
        name = PREFIX + issue.field
        self.add_error(name if name in self.fields else None, issue.text())
