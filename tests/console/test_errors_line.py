"""One line for a form's errors, everywhere a refusal is said in one line (messages, refusal pages, the audit
record of a refused upload): what is wrong with the whole first, then each field by its label."""
from django import forms
from rest_framework import serializers

from console.words import errors_line


class PeriodForm(forms.Form):
    period_start = forms.DateField(label="Period start")
    pharmacy_npi = forms.CharField(max_length=10, label="Pharmacy NPI")
    note = forms.CharField(required=False)  # no label: its name

    def clean(self):
        raise forms.ValidationError("The period cannot be read.")


def test_a_forms_errors_read_whole_first_then_each_field_by_its_label():
    form = PeriodForm({"period_start": "soon", "pharmacy_npi": "12345678901", "note": "x" * 3})
    assert not form.is_valid()
    line = errors_line(form.errors, form.fields)
    assert line == ("The period cannot be read.; Period start: Enter a valid date.; "
                    "Pharmacy NPI: Ensure this value has at most 10 characters (it has 11).")
    assert "__all__" not in line


class UploadBody(serializers.Serializer):
    file = serializers.FileField(required=False)
    label = serializers.CharField(required=False)

    def validate(self, attrs):
        if "file" not in attrs:
            raise serializers.ValidationError("Send one file.")
        return attrs


def test_a_serializers_errors_read_the_same_way_without_its_codes():
    body = UploadBody(data={"label": "x"})
    assert not body.is_valid()
    assert errors_line(body.errors) == "Send one file."
    body = UploadBody(data={"file": "not a file"})
    assert not body.is_valid()
    assert errors_line(body.errors) == ("file: The submitted data was not a file. Check the encoding type on the "
                                        "form.")
