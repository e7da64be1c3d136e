"""Pages of the promotion app (mounted at /promotions/): the queue, a new request, a request's detail
with its gates, flaws, decisions, load progress and history, and the curated registry with rollback.

Who sees what, and the refusal rule
-----------------------------------
Reading needs a login and one of view_provenance, request_promotion or approve_promotion. An action is
*offered* (its button or form rendered) only to a person who may take it in the request's present state;
approve and reject are never offered to the requester, who reads "awaiting a second person's approval".

Every POST goes to its service whatever the page offered, so the service decides and audits every
refused attempt (views never write audit rows). The answer comes from the refusal itself
(services.PromotionRefused), one rule for these pages and the API:

- 403 Forbidden is about *who* asks (`refused.forbidden`): a missing permission, or four eyes (the
  requester approving or rejecting their own request);
- 409 Conflict is about *when or what*: the request's state, stale or failed gates, a partial manifest,
  a race lost to another approver, a flaw that re-analysis changed, a rollback that is not backwards;
- 400 Bad Request when the form itself is incomplete (an empty comment or note): nothing reaches the
  service, the form comes back with its errors.

Each of these re-renders the page (or, for htmx, the fragment) with the reason shown; someone who may not
read the page at all gets the reason alone, with the same status. What is *shown* is asked of
promotion.policy (`offered`), the same table the services enforce.

Modules: `queue` (the queue and a new request), `detail` (a request's page, its polls and its actions),
`registry` (the curated registry and rollback), `_common` (what they share). The URLs import the views
from here.
"""
from promotion.views._common import PAGE_SIZE
from promotion.views.detail import (
    drift_acknowledge, flaw_disposition, flaw_withdraw, request_approve, request_cancel, request_detail,
    request_live, request_progress, request_recheck, request_reject,
)
from promotion.views.queue import request_list, request_new
from promotion.views.registry import registry, registry_rollback, registry_versions

__all__ = [
    "PAGE_SIZE", "drift_acknowledge", "flaw_disposition", "flaw_withdraw", "registry", "registry_rollback",
    "registry_versions", "request_approve", "request_cancel", "request_detail", "request_list",
    "request_live", "request_new", "request_progress", "request_recheck", "request_reject",
]
