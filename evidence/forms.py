"""Forms of the evidence pages."""

from __future__ import annotations

from django import forms

from evidence.intake.uploads import export_name_problem


class ExportUploadForm(forms.Form):
    """One Leaf IQ export, as a .zip of its folder."""

    file = forms.FileField(
        label="Leaf IQ export (.zip)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
        error_messages={"required": "Choose the export's .zip file to upload."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = export_name_problem(upload.name)
        if problem:
            raise forms.ValidationError(problem)
        return upload
