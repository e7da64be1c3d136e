"""OpenLineage run events of the deliverables app (issue 14, point 6): deliverables.lineage.events emits them (the
lake under lineage/, and a Marquez-compatible endpoint when OPENLINEAGE_URL is set); deliverables.lineage.kinds
says what each kind of work reports. deliverables.jobs emits START, COMPLETE and FAIL of every queued job;
publication calls `lineage_publication` once published."""
from deliverables.lineage.events import PRODUCER, emit, lineage_events, run_id
from deliverables.lineage.kinds import job_event, lineage_publication

__all__ = ["PRODUCER", "emit", "job_event", "lineage_events", "lineage_publication", "run_id"]
