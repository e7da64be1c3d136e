"""What the client scope API answers (deliverables.scope.api): the shapes, documented. They shape; they never save."""
from __future__ import annotations

from rest_framework import serializers

from deliverables.scope import compare

FLAG_CODES = ", ".join(compare.FLAG_ORDER)


class ScopeQuerySerializer(serializers.Serializer):
    """The list's filters, as the page takes them (a value that is not valid is a 400 naming the filter)."""

    client = serializers.CharField(required=False, allow_blank=True, max_length=255, default="",
                                   help_text="any part of the client's name or Salesforce account id, case folded")
    differences = serializers.BooleanField(required=False, default=False,
                                           help_text="true: only the clients with at least one flag")
    page = serializers.IntegerField(required=False, min_value=1, default=1, help_text="the page, from 1")


class ScopeSourceSerializer(serializers.Serializer):
    load_id = serializers.CharField(help_text="the export Domo's side is read from: the newest that is not invalid")
    status = serializers.CharField(help_text="the export's manifest status")
    exported_at = serializers.DateTimeField(allow_null=True)
    datasets = serializers.IntegerField(help_text="its datasets with PDP policies")
    url = serializers.URLField(help_text="the export's manifest in the API")
    page_url = serializers.URLField(help_text="the export's page in the console")


class ScopeIdNameSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the Domo id")
    name = serializers.CharField(help_text="from the export's directory, or said to be missing from it")


class ScopeUserSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="the Domo user id")
    name = serializers.CharField()
    email = serializers.CharField(allow_blank=True)


class ScopeFlagGroupSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=f"one of {FLAG_CODES}")
    label = serializers.CharField(help_text="the flag's label on the page")
    count = serializers.IntegerField(help_text="how many flags of this kind the client has")
    details = serializers.ListField(child=serializers.CharField(),
                                    help_text="for a user's flag, the users named; else each flag's message")


class ScopeClientSerializer(serializers.Serializer):
    """A client as the list page shows it."""

    key = serializers.CharField(help_text="the Salesforce account id; the value Domo's PDP names when no account "
                                          "does (may hold spaces or /)")
    account_id = serializers.CharField(allow_blank=True, help_text="empty when no Salesforce account is known")
    name = serializers.CharField(allow_blank=True, help_text="the account's name; empty when unknown")
    scoped = serializers.BooleanField(help_text="whether the backend scope is decided: one Domo group from the "
                                                "governed account (false: unscoped, the backend lets nobody see it)")
    domo_group = serializers.CharField(allow_blank=True, help_text="the backend's Domo group; empty when unscoped")
    unscoped_reason = serializers.CharField(allow_blank=True, help_text="why the client is unscoped; empty if not")
    backend_users = ScopeUserSerializer(many=True, help_text="the users the backend scope holds")
    domo_groups = ScopeIdNameSerializer(many=True, help_text="the groups named by the policies letting the client's "
                                                             "rows through")
    domo_users = ScopeUserSerializer(many=True, help_text="the users Domo's PDP let see the client's rows")
    flags = ScopeFlagGroupSerializer(many=True, help_text="one entry per kind of flag, in the report's order")
    has_differences = serializers.BooleanField(help_text="whether the client has any flag")
    url = serializers.URLField(help_text="this client in the API")
    page_url = serializers.URLField(help_text="this client's page in the console")


class ScopeTotalsSerializer(serializers.Serializer):
    clients = serializers.IntegerField(help_text="every client, whatever the filters")
    with_differences = serializers.IntegerField(help_text="the clients with at least one flag, whatever the filters")


class ScopeListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="the clients these filters match")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="the next page, or null on the last")
    previous = serializers.URLField(allow_null=True, help_text="the previous page, or null on the first")
    totals = ScopeTotalsSerializer(help_text="as the page's counts show them")
    source = ScopeSourceSerializer(allow_null=True, help_text="null when no export that is not invalid has come: "
                                                              "Domo's PDP is not known, nobody is let in by it")
    results = ScopeClientSerializer(many=True)


class ScopePolicySerializer(serializers.Serializer):
    policy_id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField(help_text="user, or open (the All Rows policy)")
    filters = serializers.ListField(child=serializers.CharField(),
                                    help_text="each filter in words, AND-ed; none: every row")
    outcome = serializers.CharField(help_text=f"what the policy decided for this client: {compare.THROUGH}, "
                                              f"{compare.BLOCKED} or {compare.UNDECIDED}")
    outcome_label = serializers.CharField(help_text="the outcome as the page says it")
    reason = serializers.CharField(help_text="why: the filters that decided, or what cannot be evaluated")
    groups = ScopeIdNameSerializer(many=True, help_text="the groups it names, and those nested in them")
    users = ScopeIdNameSerializer(many=True, help_text="the users it names, and the members of its groups")


class ScopeDatasetSerializer(serializers.Serializer):
    domo_id = serializers.CharField()
    name = serializers.CharField()
    pdp_enabled = serializers.BooleanField(allow_null=True, help_text="false: PDP is disabled on the dataset")
    owner_name = serializers.CharField(allow_blank=True, help_text="sees every row in Domo; not counted")
    policies = ScopePolicySerializer(many=True, help_text="every policy, in the dataset's order (OR-ed)")


class ScopeUserLineSerializer(ScopeUserSerializer):
    in_backend = serializers.BooleanField(help_text="whether the backend scope holds the user")
    domo = serializers.CharField(allow_blank=True,
                                 help_text="saw: Domo's PDP let the user in; undecided: only a policy that "
                                           "cannot be evaluated might have; empty: not let in")
    via = serializers.ListField(child=serializers.CharField(), help_text="'dataset: policy' that let the user in "
                                                                         "(or might have)")
    flag = serializers.CharField(allow_blank=True, help_text="domo_only, backend_only, undecided, or empty: agree")
    flag_label = serializers.CharField(allow_blank=True, help_text="the flag's label; empty when they agree")


class ScopeFlagSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=f"one of {FLAG_CODES}")
    label = serializers.CharField()
    message = serializers.CharField(help_text="what is different, in words")


class ScopeDetailSerializer(ScopeClientSerializer):
    """A client as its page shows it."""

    governed = serializers.BooleanField(help_text="whether a governed Salesforce account row names the client")
    evidence = serializers.ListField(child=serializers.CharField(),
                                     help_text="the Salesforce packet revisions read, e.g. 'EVP-... r1 (governed)'")
    backend_groups = ScopeIdNameSerializer(many=True, help_text="the backend's group found in the directory, and "
                                                                "those nested in it")
    users = ScopeUserLineSerializer(many=True, help_text="every user on either side, with their flag")
    flag_messages = ScopeFlagSerializer(many=True, help_text="each flag with its message, in the report's order")
    datasets = ScopeDatasetSerializer(many=True, help_text="the newest export's datasets with PDP policies")
    source = ScopeSourceSerializer(allow_null=True, help_text="the export Domo's side is read from; null if none")
    list_url = serializers.URLField(help_text="every client in the API")
