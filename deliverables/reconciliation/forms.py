"""Forms of the reconciliation pages: the scoreboard's filters, the mapping form (one row per golden column),
the differences' status filter, Reconcile now, an adjudication, a retirement.

The forms check only the shape of what was typed (a choice among the offered ones, a whole number); whether a
mapping makes sense (a golden column, a key of the output, a flaw recorded on the card) is the service's to say
(services.mapping_save refuses naming the field)."""
from __future__ import annotations

from django import forms

from console.submissions import SubmissionForm
from deliverables.choices import CardState, Verdict
from deliverables.reconciliation import outputs
from deliverables.reconciliation.mappings import KEY_KINDS

ROLES = (("key", "Key"), ("measure", "Measure"), ("ignore", "Ignore"))
ITEM_STATUSES = (("open", "Open (to adjudicate)"), ("all", "All differences"))


class ScoreboardFilterForm(forms.Form):
    """/reconciliation/: by export (its load id) and by state."""

    manifest = forms.ChoiceField(required=False, label="Export (load id)")
    state = forms.ChoiceField(required=False, label="State", choices=[("", "Any state"), *CardState.choices])

    def __init__(self, *args, manifests=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.manifests: dict = {}
        for m in manifests:  # newest first: a load id received twice filters by its newest export
            self.manifests.setdefault(m.load_id, m)
        self.fields["manifest"].choices = [("", "Every export"), *((load_id, load_id) for load_id in self.manifests)]

    def manifest_ids(self) -> int | None:
        load_id = self.cleaned_data.get("manifest")
        return self.manifests[load_id].pk if load_id else None


class ItemFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=ITEM_STATUSES, label="Show")


class AdjudicateForm(forms.Form):
    """One difference's verdict. Its fields carry no id (a row swapped in place by htmx must not match the old
    row's elements by id: htmx would then settle their attributes, which the Content-Security-Policy refuses)."""

    verdict = forms.ChoiceField(choices=[("", "— verdict —"), *Verdict.choices], label="Verdict",
                                widget=forms.Select(attrs={"aria-label": "Verdict"}))
    comment = forms.CharField(label="Comment", max_length=4000, widget=forms.TextInput(
        attrs={"placeholder": "why (required)", "aria-label": "Comment (required)"}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", False)
        super().__init__(*args, **kwargs)


class ReconcileForm(SubmissionForm):
    """Reconcile now: only its `submission` key, so a second send of the same button (a double click) leads to the
    first send's reconciliation instead of queuing another (console.submissions)."""


class RetireForm(forms.Form):
    comment = forms.CharField(required=False, label="Comment", max_length=4000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class MappingForm(forms.Form):
    """One mapping version: the backend output, then per golden column its role, backend field and settings.

    Field names per column i (0-based, in the golden rows' order): c<i>-role, c<i>-backend, c<i>-kind,
    c<i>-casefold, c<i>-scale, c<i>-abs, c<i>-rel, c<i>-flaws."""

    output = forms.ChoiceField(label="Backend output", choices=outputs.choices())
    note = forms.CharField(required=False, label="Note", max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 3, "cols": 100}))

    def __init__(self, *args, columns: list[str], output_name: str, flaws: dict[str, list[dict]], **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = list(columns)
        output = outputs.OUTPUTS.get(output_name)
        keys = [(c.name, f"{c.name} ({c.label})") for c in output.keys] if output else []
        measures = [(c.name, f"{c.name} ({c.label})") for c in output.measures] if output else []
        for i, column in enumerate(self.columns):
            p = f"c{i}-"
            self.fields[p + "role"] = forms.ChoiceField(choices=ROLES, label=f"{column}: role", initial="ignore")
            self.fields[p + "backend"] = forms.ChoiceField(
                required=False, label=f"{column}: backend field",
                choices=[("", "—"), ("Keys", keys), ("Measures", measures)])
            self.fields[p + "kind"] = forms.ChoiceField(
                required=False, label=f"{column}: key kind", choices=[(k, k) for k in KEY_KINDS])
            self.fields[p + "casefold"] = forms.BooleanField(required=False, label=f"{column}: ignore case")
            self.fields[p + "scale"] = forms.IntegerField(required=False, min_value=0, max_value=18,
                                                          label=f"{column}: scale")
            self.fields[p + "abs"] = forms.CharField(required=False, max_length=40,
                                                     label=f"{column}: absolute tolerance")
            self.fields[p + "rel"] = forms.CharField(required=False, max_length=40,
                                                     label=f"{column}: relative tolerance")
            self.fields[p + "flaws"] = forms.MultipleChoiceField(
                required=False, widget=forms.CheckboxSelectMultiple, label=f"{column}: explained by",
                choices=[(f["fingerprint"], f"{f['code']} in {f['where']}: {f['message']}")
                         for f in flaws.get(column, [])])

    def rows(self) -> list[dict]:
        """Per golden column its bound fields, for the template."""
        names = ("role", "backend", "kind", "casefold", "scale", "abs", "rel", "flaws")
        return [{"column": column, "index": i, **{n: self[f"c{i}-{n}"] for n in names}}
                for i, column in enumerate(self.columns)]

    def mapping(self) -> tuple[list[dict], list[dict]]:
        """(keys, measures) as services.mapping_save takes them, in the golden columns' order."""
        keys, measures = [], []
        for i, column in enumerate(self.columns):
            data = {n: self.cleaned_data.get(f"c{i}-{n}") for n in
                    ("role", "backend", "kind", "casefold", "scale", "abs", "rel", "flaws")}
            if data["role"] == "key":
                keys.append({"golden": column, "backend": data["backend"] or "", "kind": data["kind"] or "",
                             "casefold": bool(data["casefold"])})
            elif data["role"] == "measure":
                measure = {"golden": column, "backend": data["backend"] or "", "abs_tolerance": data["abs"] or None,
                           "rel_tolerance": data["rel"] or None, "flaws": list(data["flaws"] or [])}
                if data["scale"] is not None:
                    measure["scale"] = data["scale"]
                measures.append(measure)
        return keys, measures


def mapping_initial(columns: list[str], output: str, keys: list[dict], measures: list[dict], note: str = "") -> dict:
    """The mapping form's initial values from a mapping (a saved version's or a proposal's keys and measures)."""
    initial: dict = {"output": output, "note": note}
    by_key = {k["golden"]: k for k in keys}
    by_measure = {m["golden"]: m for m in measures}
    for i, column in enumerate(columns):
        p = f"c{i}-"
        if column in by_key:
            key = by_key[column]
            initial.update({p + "role": "key", p + "backend": key["backend"], p + "kind": key.get("kind") or "text",
                            p + "casefold": bool(key.get("casefold"))})
        elif column in by_measure:
            m = by_measure[column]
            initial.update({p + "role": "measure", p + "backend": m["backend"], p + "scale": m.get("scale"),
                            p + "abs": m.get("abs_tolerance") or "", p + "rel": m.get("rel_tolerance") or "",
                            p + "flaws": [f["fingerprint"] if isinstance(f, dict) else f for f in m.get("flaws") or []]})
        else:
            initial[p + "role"] = "ignore"
    return initial
